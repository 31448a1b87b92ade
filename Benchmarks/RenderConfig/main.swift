// How long one config render takes, per phone family, with nothing cached (issue 12: rendering
// the new config is the largest single part of a login). Each render has a new app token, as
// every login and logout does, so the render memo never answers. Not a product: built only by
// the benchmark. Usage: render-config [SCREENS_DIR] [RENDERS]
import Foundation
import HotDeskCore
import PhoneFamilies
import Provisioning

let arguments = CommandLine.arguments
let screens = URL(fileURLWithPath: arguments.count > 1 ? arguments[1] : "Screens")
let renders = arguments.count > 2 ? Int(arguments[2]) ?? 20_000 : 20_000
let book = try FamilyBook(screens: screens)
let server = ServerAddress("127.0.0.1:8080")!
let clock = ContinuousClock()
let renderer = ConfigRenderer()
print("family       bytes  µs/render  (\(renders) renders, a logged-in phone with two shared lines)")
for brand in book.configs.families.keys.sorted(by: { $0.rawValue < $1.rawValue }) {
    guard let family = book.configs[brand], let model = book.catalog.families[brand]?.models.first else { continue }
    let file = family.primaryFile
    var device = Device(mac: MACAddress("001565aabbcc")!, model: model, token: "")
    var context = ConfigContext(
        device: device,
        line: .init(number: "5501", name: "Ada Lovelace", sipPassword: "s3cret-sip"),
        server: server,
        network: .internal,
        emergencyCallerID: "+15550100"
    )
    for (i, number) in ["5601", "5602"].enumerated() {
        context.accounts.append(
            .init(index: i + 2, number: number, name: "Shared \(number)", sipPassword: "p", callerID: nil, button: i + 2, shared: true, ring: .ring)
        )
    }
    var bytes = 0
    let elapsed = try clock.measure {
        for i in 0..<renders {
            device.token = "token-\(i)"
            context.device = device
            context.appToken = device.token
            bytes = try renderer.render(file.template, name: file.templateName, format: family.format, context: context).body.utf8.count
        }
    }
    let micros = Double(elapsed.components.seconds) * 1e6 + Double(elapsed.components.attoseconds) / 1e12
    print("\(brand.rawValue.padding(toLength: 12, withPad: " ", startingAt: 0)) \(String(format: "%5d  %9.1f", bytes, micros / Double(renders)))")
}
