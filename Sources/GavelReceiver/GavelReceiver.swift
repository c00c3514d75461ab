// GavelReceiver
