import Testing

@testable import GavelCore

@Suite struct FormURLEncodingTests {
    private func decode(_ text: String) throws(FormDecodingError) -> [String] {
        try FormURLEncoding.decode(Array(text.utf8)).map { "\($0.name)=\($0.value)" }
    }

    @Test func decodesPairsInOrder() throws {
        #expect(try decode("b=2&a=1&b=3") == ["b=2", "a=1", "b=3"])
    }

    @Test func plusIsSpaceAndPercentDecodes() throws {
        #expect(
            try decode("SECURITY_RULE_NAME=Request+from+IP&x=%7B%22a%22%3A1%7D&pct=100%25&plus=%2B")
                == ["SECURITY_RULE_NAME=Request from IP", #"x={"a":1}"#, "pct=100%", "plus=+"])
    }

    @Test func splitsAtFirstEqualsAndSkipsEmptyPieces() throws {
        #expect(try decode("&&a=b=c&&flag&=v&") == ["a=b=c", "flag=", "=v"])
        #expect(try decode("") == [])
    }

    @Test func decodesUTF8AndMixedCaseHex() throws {
        #expect(try decode("n=%C3%a9%E2%82%AC") == ["n=é€"])
    }

    @Test(arguments: ["a=%", "a=%4", "a=%G1", "a=%4g", "%zz=1", "a=%%41", "a=1%2"])
    func refusesBadEscapes(_ text: String) {
        #expect(throws: FormDecodingError.self) { try decode(text) }
    }

    @Test(arguments: ["a=%FF", "a=%C3", "a=%C0%AF", "a=%ED%A0%80", "%80=x"])
    func refusesInvalidUTF8AfterDecoding(_ text: String) {
        #expect(throws: FormDecodingError.self) { try decode(text) }
    }

    @Test func errorNamesTheOffset() {
        do {
            _ = try decode("ab=%Zx")
            Issue.record("expected an error")
        } catch {
            #expect(error.message.contains("byte 3"))
        }
    }

    @Test func encodeRoundTrips() throws {
        let pairs = [
            ("SECURITY_SIGNAL_ATTRIBUTES", #"{"network":{"client":{"ip":["198.51.100.99"]}}}"#),
            ("name with space", "a+b&c=d%é*-._~"),
        ]
        let encoded = FormURLEncoding.encode(pairs)
        #expect(encoded.hasPrefix("SECURITY_SIGNAL_ATTRIBUTES=%7B%22network%22%3A%7B"))
        #expect(encoded.contains("name+with+space=a%2Bb%26c%3Dd%25%C3%A9*-._%7E"))
        let back = try FormURLEncoding.decode(Array(encoded.utf8))
        #expect(back.map(\.name) == pairs.map(\.0))
        #expect(back.map(\.value) == pairs.map(\.1))
    }
}
