// Placeholder until the module's sources land; delete when adding real ones.
