/// What a login changes, decided before anything is written: who must be logged out first.
///
/// Rules: a login on a phone someone else is logged into logs them out first; logging an
/// extension into a second phone logs it out of the first.
public struct LoginPlan: Hashable, Sendable {
    /// The session on this phone that the login replaces (another extension, or the same one again).
    public let replacedOnDevice: Session?
    /// The session of this extension on another phone, which the login ends.
    public let movedFromDevice: Session?

    public init(device: MACAddress, extensionNumber: String, sessionOnDevice: Session?, sessionOfExtension: Session?) {
        replacedOnDevice = sessionOnDevice
        if let other = sessionOfExtension, other.mac != device {
            movedFromDevice = other
        } else {
            movedFromDevice = nil
        }
    }

    /// Every phone whose config changes, this one first.
    public func affectedDevices(_ device: MACAddress) -> [MACAddress] {
        [device] + [movedFromDevice?.mac].compactMap { $0 }
    }
}
