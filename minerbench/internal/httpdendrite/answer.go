package httpdendrite

// Answer returns the body of the last answer Query read in full (a
// non-streaming synapse's: the whole synapse as JSON, or {"message": …}),
// valid until the next Query; nil before the first.
func (c *Client) Answer() []byte {
	if c.streaming {
		return nil
	}
	return c.buf
}
