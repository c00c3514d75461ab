import Foundation

// gavel's entry point: everything lives in CLI so that nothing is a main-actor global.
exit(CLI.run(Array(CommandLine.arguments.dropFirst())))
