// GavelConsole
