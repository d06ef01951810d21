package harness

// RequireDecision exposes requireDecision to the external tests.
var RequireDecision = requireDecision
