package feed

// Malform returns a damaged copy of a message, as a flaky link or a buggy
// adapter would send it, for testing that bad input is caught: the n-th
// damaged message of a recording is cut in half when n is odd, and
// prefixed with junk when n is even. No format reads either as a valid
// message.
func Malform(msg []byte, n int) []byte {
	if n%2 == 1 {
		return append([]byte(nil), msg[:len(msg)/2]...)
	}
	return append([]byte("#corrupt# "), msg...)
}
