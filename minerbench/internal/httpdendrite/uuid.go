package httpdendrite

import (
	"crypto/rand"
	"encoding/binary"
	"time"

	"github.com/minerbench/minerbench/minerbench/internal/synapse"
)

// gregorianOffset is the number of 100 ns intervals from 1582-10-15, the
// epoch of version 1 UUIDs, to 1970-01-01.
const gregorianOffset = 0x01b21dd213814000

// newUUID1 returns a version 1 UUID for the time now, with a random clock
// sequence and a random node (multicast bit set, as RFC 9562 asks of a
// node that is not a MAC address), in the form of Python's str(uuid1()).
func newUUID1(now time.Time) string {
	ts := uint64(now.UnixNano()/100) + gregorianOffset
	var u [16]byte
	binary.BigEndian.PutUint32(u[0:], uint32(ts))
	binary.BigEndian.PutUint16(u[4:], uint16(ts>>32))
	binary.BigEndian.PutUint16(u[6:], uint16(ts>>48)&0x0fff|0x1000)
	_, _ = rand.Read(u[8:]) // crypto/rand.Read never fails
	u[8] = u[8]&0x3f | 0x80
	u[10] |= 0x01
	return synapse.FormatUUID(u)
}
