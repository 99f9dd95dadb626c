package cb

// Hooks into the breaker that only tests use.

// SetClosingHook makes f run in b's closing gap: after the CAS that closes
// b and before the close completes. Tests use it to place a call exactly
// there.
func SetClosingHook[T any](b *Breaker[T], f func()) { b.closingHook = f }
