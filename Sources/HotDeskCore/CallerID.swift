/// The numbers a PBX asserts for a call (`/pbx/v1/authorize`, `/pbx/v1/credentials`): a line's
/// own caller ID, and for an emergency call the desk's — the phone the call comes from — so that
/// whoever answers an emergency call calls back, and finds, the desk, never a user who has left it.
public enum CallerID {
    /// A caller ID: 3 to 20 ASCII digits, with one leading `+` or none. It goes into SIP headers
    /// (`P-Asserted-Identity`) and phone configs as it is.
    public static func isValid(_ text: some StringProtocol) -> Bool {
        let digits = text.utf8.first == UInt8(ascii: "+") ? text.utf8.dropFirst() : text.utf8[...]
        return (3...20).contains(digits.count) && digits.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
    }

    /// The emergency caller ID of a desk: the device's own, else its workspace's, else the
    /// settings'; `nil` when none is set (the PBX then asserts the calling line's caller ID).
    public static func emergency(of device: Device?, workspace: Workspace?, settings: Settings) -> String? {
        device?.emergencyCallerID ?? workspace?.emergencyCallerID ?? settings.emergencyCallerID
    }
}
