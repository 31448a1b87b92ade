import Foundation
import HotDeskCore
import HotDeskStore
import Hummingbird
import Logging
import NIOCore
import PhoneFamilies
import Provisioning

/// `GET /provision/<file>`: the phones' config files, logged in or out, from templates. One fetch
/// is a pipeline (`serve`): identify the phone and its file, enrol a phone never seen, prove who
/// asks, render, record what the phone was served. A step that must answer early (a refusal, a
/// challenge, a common file) throws its `Answer`.
struct ProvisioningController: Sendable {
    let store: any DeviceStore & DirectoryStore & AuditStore & StampedStore & NodeLocks
    let catalog: PhoneCatalog
    let configs: ConfigFamilies
    let pushes: PushService
    let telemetry: Telemetry
    let addresses: PhoneAddressResolver
    let hosts: HostPolicy
    let digest: DigestAuth
    let security: SecurityLog
    /// Refused fetches are audited at most this often per source address (the security log has each).
    let refusals: RefusalThrottle
    let enrolments: EnrolmentGate
    let fetchTimes: FetchTimes
    let builder: ConfigBuilder
    /// What the store held for a device (or what a login or logout on this node just committed
    /// for it: `PhoneChanges.keep`), and the configs rendered from it, while the phone's change
    /// stamp stays the same: a phone asking again costs no read and no render. Sized for memory
    /// (`CacheLimits.phoneConfigs`).
    let states: StampedCache<MACAddress, ChangeStamp, DeviceConfigState>
    let rendered: StampedCache<RenderedKey, ChangeStamp, ServedConfig>
    /// What each file name means never changes while the server runs (the families are loaded once).
    let fileNames: Memo<String, [ConfigFileMatch]>
    /// The other directories on this server (organisations): a phone of theirs does not enrol here.
    var owners: DeviceOwners?
    let clock: @Sendable () -> Date

    init(
        store: any DeviceStore & DirectoryStore & AuditStore & StampedStore & NodeLocks,
        families: FamilyBook,
        renderer: ConfigRenderer,
        caches: CacheLimits,
        states: StampedCache<MACAddress, ChangeStamp, DeviceConfigState>,
        pushes: PushService,
        telemetry: Telemetry,
        addresses: PhoneAddressResolver,
        hosts: HostPolicy,
        digest: DigestAuth,
        security: SecurityLog,
        refusals: RefusalThrottle,
        enrolments: EnrolmentGate,
        fetchTimes: FetchTimes,
        pathPrefix: String = "",
        clock: @escaping @Sendable () -> Date
    ) {
        self.store = store
        catalog = families.catalog
        configs = families.configs
        builder = ConfigBuilder(configs: families.configs, renderer: renderer, pathPrefix: pathPrefix)
        self.states = states
        rendered = StampedCache(limit: caches.phoneConfigs)
        fileNames = Memo(limit: caches.requests)
        self.pushes = pushes
        self.telemetry = telemetry
        self.addresses = addresses
        self.hosts = hosts
        self.digest = digest
        self.security = security
        self.refusals = refusals
        self.enrolments = enrolments
        self.fetchTimes = fetchTimes
        self.clock = clock
    }

    func register(with router: Router<HotDeskRequestContext>) {
        router.get("/provision/{first}") { request, context in try await self.serve(request, context: context) }
        // The per-device key form (`ProvisioningAuth.urlKey`): `/provision/<secret>/<file>`.
        router.get("/provision/{first}/{second}") { request, context in try await self.serve(request, context: context) }
    }

    func serve(_ request: Request, context: HotDeskRequestContext) async throws -> Response {
        do {
            var fetch = try await identify(request, context)
            // A name that is not HotDesk's is a DNS-rebinding page's, not a phone's
            // (docs/security.md): refused before anything is read for the phone. The settings
            // are those at the stamp just read (one reading of the stamps per fetch).
            guard hosts.accepts(request, settings: try await store.settings(at: fetch.stamp?.shared)) else { return HostPolicy.misdirected }
            try await readState(&fetch)
            let file = try await choose(&fetch)
            let state = try await enrol(&fetch, file)
            fetch.reached = hosts.address(request, settings: state.settings)
            let proven = try await authorize(fetch, state, file)
            let served = try render(fetch, state, file, proven: proven, context)
            return try await record(fetch, state, file, served, proven: proven, context)
        } catch let answer as Answer {
            return answer.response
        }
    }

    /// A step's answer that ends the fetch (a refusal, a challenge, a common file).
    struct Answer: Error {
        let response: Response
        init(_ response: Response) { self.response = response }
        static let noSuchFile = Answer(.text(.notFound, "no such config file\n"))
        static let unknownDevice = Answer(.text(.notFound, "unknown device\n"))
    }

    /// One fetch as the pipeline learns it.
    struct ConfigFetch {
        let request: Request
        /// The file name asked for, and the secret before it in a key path (`/provision/<key>/<file>`).
        let file: String
        let pathKey: String?
        let matches: [ConfigFileMatch]
        /// The MAC in the file name (a placeholder for a common file).
        let mac: MACAddress
        let userAgent: String
        /// The `Authorization` header (read once: each reading of a header joins its values).
        let authorization: String?
        let agentBrands: [Brand]
        let now: Date
        let phoneAddress: String?
        /// What the store holds for the phone, at `stamp` (nil: not known yet).
        var stamp: ChangeStamp?
        var state: DeviceConfigState?
        /// The store could not say the phone's stamp (the database is down or unreachable): the
        /// state is the last this node saw, the config the last it served, and nothing is written.
        var storeUnreachable = false
        /// The address the phone reached HotDesk at, as `HostPolicy` believes it.
        var reached: ServerAddress?
    }

    /// 304 when the phone already has this config (its `If-None-Match` names our hash).
    func conditional(_ served: ServedConfig, _ request: Request) -> Response {
        if let match = request.headers[.ifNoneMatch], served.isMatched(by: match) {
            return Response(status: .notModified, headers: served.notModifiedHeaders)
        }
        return Response(status: .ok, headers: served.headers, body: .init(byteBuffer: served.body))
    }

    /// Which rendering of a phone's file: the same phone asking at another address, or before it
    /// proved itself, gets another one.
    struct RenderedKey: Hashable, Sendable {
        let mac: MACAddress
        let template: String
        let reached: String?
        let proven: Bool
    }
}
