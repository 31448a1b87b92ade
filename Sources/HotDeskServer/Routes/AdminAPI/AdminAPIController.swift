import Foundation
import HTTPTypes
import HotDeskAPI
import HotDeskCore
import HotDeskStore
import Hummingbird
import Logging
import PhoneFamilies
import PhonePush

/// The admin API under `/api/v1`: JSON, bearer API key (`hotdesk apikey create`). See
/// `docs/api.md`. Every change is audited with the key's name as actor (`api:<name>`).
struct AdminAPIController: Sendable {
    let store: any Store
    let changes: PhoneChanges
    /// The phone families: the catalog, configs and languages a directory file is checked against.
    let families: FamilyBook
    /// Which pushes each family takes (an admin's push of another is refused).
    let recipes: PushRecipeBook
    let addresses: PhoneAddressResolver
    /// The Login app's remembered locks and address counts (cleared with the store's failures).
    let locks: LoginGuard
    /// The web console's cookie, which opens the API like a key of the account's role.
    let console: ConsoleAuth
    let events: ConsoleEvents
    /// The zone of a directory that names none (`serve --time-zone`): the console shows times in it.
    let timeZone: TimeZone
    /// The organisations beside the main directory (the main one's API lists and makes them for
    /// partners); none in an organisation's API.
    var organisations: OrganisationHost?
    /// An organisation's API: the main directory's partner keys open it too.
    var partnerKey: APIKeyMiddleware.PartnerKeyLookup?
    let clock: @Sendable () -> Date

    func register(with router: Router<HotDeskRequestContext>) {
        var keys = APIKeyMiddleware(store: store, addresses: addresses, clock: clock, throttle: RefusalThrottle(), console: console)
        keys.partnerKey = partnerKey
        let api = router.group("/api/v1").add(middleware: keys)
        api.get("organisations") { _, _ -> Response in
            let names = organisations?.names ?? []
            return .json(.ok, OrganisationList(organisations: names.map { OrganisationView(name: $0, path: Organisation.pathPrefix($0)) }))
        }
        api.post("organisations") { request, context in try await self.createOrganisation(request, context) }
        api.get("events") { _, context in try self.eventStream(context) }
        api.get("extensions") { request, context in try await self.listExtensions(request, context) }
        api.get("accounts") { _, _ -> Response in
            .json(.ok, AdminAccountList(accounts: try await self.store.adminAccounts().map(AdminAccountView.init)))
        }
        api.post("accounts") { request, context in try await self.saveAccount(request, context) }
        api.delete("accounts/{name}") { _, context in try await self.removeAccount(context) }
        api.get("sessions") { request, context in try await self.listSessions(request, context) }
        api.delete("sessions/{mac}") { request, context in try await self.forceLogout(request, context) }
        api.post("extensions/{number}/logout") { request, context in try await self.logoutExtension(request, context) }
        api.get("push-jobs") { request, context in try await self.listJobs(request, context) }
        api.get("push-jobs/{id}") { request, context in try await self.job(request, context) }
        api.post("devices/{mac}/push") { request, context in try await self.push(request, context) }
        api.post("devices/push-changed") { request, context in try await self.pushChanged(request, context) }
        api.post("extensions/{number}/sip-password") { request, context in try await self.resetSIPPassword(request, context, shared: false) }
        api.post("shared-lines/{number}/sip-password") { request, context in try await self.resetSIPPassword(request, context, shared: true) }
        api.post("devices/{mac}/sip-password") { request, context in try await self.resetDeviceLinePassword(request, context) }
        api.get("workspaces") { request, context in try await self.listWorkspaces(request, context) }
        api.get("sites") { _, context in try await self.listSites(context) }
        api.get("cos") { _, _ in try await self.listCoS() }
        api.get("cos/check") { request, context in try await self.checkCoS(request, context) }
        api.get("cos/{name}") { _, context in try await self.showCoS(context) }
        api.get("devices") { request, context in try await self.listDevices(request, context) }
        api.get("shared-lines") { _, _ in try await self.listSharedLines() }
        api.get("locks") { _, context in try await self.listLocks(context) }
        api.get("audit") { request, context in try await self.listAudit(request, context) }
        api.get("devices/{mac}") { request, context in try await self.device(request, context) }
        api.get("devices/{mac}/config") { _, context in try await self.configPreview(context) }
        api.get("apikeys") { _, _ -> Response in .json(.ok, APIKeyList(keys: try await self.store.apiKeys().map(APIKeyView.init))) }
        api.delete("apikeys/{name}") { request, context in try await self.revokeKey(request, context) }
        api.delete("locks/extension/{key}") { request, context in
            try await self.clearLock(request, context) { Extension.isValidNumber($0) ? .extension($0) : nil }
        }
        api.delete("locks/device/{key}") { request, context in try await self.clearLock(request, context) { MACAddress($0).map(LockSubject.device) } }
        api.delete("locks/source/{key}") { request, context in
            try await self.clearLock(request, context) { IPAddressLiteral.isValid($0) ? .source($0) : nil }
        }
        api.delete("extensions/{number}/pin") { request, context in try await self.clearPIN(request, context) }
        api.post("directory") { request, context in try await self.importDirectory(request, context) }
        api.get("directory") { request, _ in try await self.exportDirectory(request) }
        api.get("directory/{section}") { request, context in try await self.directoryKeys(request, context) }
        api.get("directory/{section}/{key}") { _, context in try await self.directoryEntry(context) }
        api.put("directory/{section}/{key}") { request, context in try await self.saveDirectoryEntry(request, context) }
        api.delete("directory/{section}/{key}") { _, context in try await self.deleteDirectoryEntry(context) }
        api.post("devices/{mac}/release") { request, context in try await self.release(request, context) }
        api.post("devices/{mac}/approve-claim") { request, context in try await self.approveClaim(request, context) }
        api.put("devices/{mac}/workspace") { request, context in try await self.assignWorkspace(request, context) }
        // The older addresses of a deletion: each key read as its section reads it.
        let deletions: [(path: RouterPath, parameter: String, section: DirectorySection)] = [
            ("extensions/{number}", "number", .extensions), ("devices/{mac}", "mac", .devices), ("shared-lines/{number}", "number", .sharedLines),
            ("workspaces/{name}", "name", .workspaces), ("templates/{name}", "name", .templates),
        ]
        for (path, parameter, section) in deletions {
            api.delete(path) { _, context in try await self.delete(context, parameter) { section.item($0) } }
        }
    }

    func macParameter(_ context: HotDeskRequestContext) throws -> MACAddress {
        guard let mac = context.parameters.get("mac").flatMap(MACAddress.init) else { throw APIError.badMAC }
        return mac
    }
}
