// GavelStore
