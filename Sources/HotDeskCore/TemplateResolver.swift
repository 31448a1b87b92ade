/// Which template a device gets for a logged-in extension, most specific first:
/// 1. a mapping for the extension with this model and this MAC;
/// 2. a mapping for the extension with this model and no MAC;
/// 3. a mapping for the extension with neither model nor MAC, whose template is for the device's brand;
/// 4. the brand's default template;
/// 5. the built-in template (`nil` here: the caller supplies it).
public enum TemplateResolver {
    public enum Source: Hashable, Sendable {
        case mappingModelAndMAC
        case mappingModel
        case mappingBrand
        case brandDefault
        case builtIn
    }

    public static func resolve(
        extensionNumber: String?,
        device: Device,
        mappings: [Mapping],
        templates: [Template]
    ) -> (template: Template?, source: Source) {
        let byName = Dictionary(templates.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        func template(of mapping: Mapping) -> Template? {
            guard let template = byName[mapping.templateName], template.brand == device.model.brand else { return nil }
            return template
        }
        if let number = extensionNumber {
            let mine = mappings.filter { $0.extensionNumber == number }
            // A MAC pins a mapping to one phone; a model given with it must agree too.
            if let hit = mine.first(where: { $0.mac == device.mac && ($0.model == nil || $0.model == device.model.name) }),
                let t = template(of: hit)
            {
                return (t, .mappingModelAndMAC)
            }
            if let hit = mine.first(where: { $0.mac == nil && $0.model == device.model.name }), let t = template(of: hit) {
                return (t, .mappingModel)
            }
            if let hit = mine.first(where: { $0.mac == nil && $0.model == nil && template(of: $0) != nil }),
                let t = template(of: hit)
            {
                return (t, .mappingBrand)
            }
        }
        if let t = templates.first(where: { $0.brand == device.model.brand && $0.isDefault }) {
            return (t, .brandDefault)
        }
        return (nil, .builtIn)
    }
}
