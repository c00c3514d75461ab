/// This build's version, in one place: `gavel --version` prints `gavel VERSION` and every
/// outgoing HTTP request's default `User-Agent` is `gavel/VERSION` (RFC 9110 §10.1.5 product
/// token), so a receiving API's logs say which gavel sent a request.
public enum GavelVersion {
    /// The release number (semantic versioning: `MAJOR.MINOR.PATCH`).
    public static let number = "0.2.0"
}
