// GavelDispatch
