import GavelCore
print("gavel")
