package wire

import (
	"compress/zlib"
	"fmt"
	"io"
	"sync"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/encoding/gzip"
)

// Names of the gRPC message compressions ("grpc-encoding") that Bittensor
// 2.0.4's --axon.compression and --dendrite.compression offer. Importing
// this package registers both with gRPC, so an axon and a dendrite read
// either whatever they send.
const (
	// Gzip is gRPC's gzip compression (RFC 1952).
	Gzip = gzip.Name
	// Deflate is gRPC's deflate compression, which is the zlib format
	// (RFC 1950: a 2-byte header, deflate data, an Adler-32 checksum), as
	// gRPC's C core, and so 2.0.4's Python grpcio, writes and reads it.
	Deflate = "deflate"
)

// CheckCompression returns an error naming field unless name is "" (no
// compression), Gzip or Deflate.
func CheckCompression(field, name string) error {
	switch name {
	case "", Gzip, Deflate:
		return nil
	}
	return fmt.Errorf("%s: %q; want %q, %q or %q (none)", field, name, Gzip, Deflate, "")
}

func init() {
	encoding.RegisterCompressor(&deflate{})
}

// deflate is the gRPC compressor of Deflate, pooling its writers and
// readers as gRPC's own gzip compressor does.
type deflate struct {
	writers, readers sync.Pool
}

func (*deflate) Name() string { return Deflate }

// Compress returns a writer compressing into w; closing it flushes the data
// and returns it to the pool.
func (c *deflate) Compress(w io.Writer) (io.WriteCloser, error) {
	z, ok := c.writers.Get().(*deflateWriter)
	if !ok {
		z = &deflateWriter{Writer: zlib.NewWriter(w), pool: &c.writers}
		return z, nil
	}
	z.Reset(w)
	return z, nil
}

type deflateWriter struct {
	*zlib.Writer
	pool *sync.Pool
}

func (z *deflateWriter) Close() error {
	defer z.pool.Put(z)
	return z.Writer.Close()
}

// Decompress returns a reader of r's decompressed bytes; gRPC closes it,
// which returns it to the pool. It fails at once when r does not start
// with a zlib header.
func (c *deflate) Decompress(r io.Reader) (io.Reader, error) {
	if z, ok := c.readers.Get().(*deflateReader); ok {
		if err := z.Reset(r, nil); err != nil {
			c.readers.Put(z)
			return nil, err
		}
		return z, nil
	}
	zr, err := zlib.NewReader(r)
	if err != nil {
		return nil, err
	}
	return &deflateReader{ReadCloser: zr, pool: &c.readers}, nil
}

type deflateReader struct {
	io.ReadCloser // a zlib reader, which is also a zlib.Resetter
	pool          *sync.Pool
}

func (z *deflateReader) Reset(r io.Reader, dict []byte) error {
	return z.ReadCloser.(zlib.Resetter).Reset(r, dict)
}

func (z *deflateReader) Close() error {
	defer z.pool.Put(z)
	return z.ReadCloser.Close()
}
