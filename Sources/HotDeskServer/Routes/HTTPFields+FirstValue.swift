import HTTPTypes

extension HTTPFields {
    /// The first value of a field that is sent once (`Authorization`, `User-Agent`). The
    /// subscript joins every value of the name into a new string, about 3,400 instructions a
    /// lookup on a phone's fetch (callgrind), and two `Authorization` values joined are no answer.
    func firstValue(_ name: HTTPField.Name) -> String? {
        first { $0.name == name }?.value
    }
}
