import Testing

@testable import gavel
