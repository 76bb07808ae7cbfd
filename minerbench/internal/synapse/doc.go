// Package synapse is the core of Bittensor's HTTP synapse protocol (the
// axon and dendrite of bittensor 6 to 10.2): header names, the signed
// string and its sr25519 signature, the body hash with Python's str() of
// field values, the parsing of request and response headers as a Python
// peer parses them, the nonce rules, and the status codes and messages.
// It does no networking; README.md beside this file describes the
// protocol as this repository implements it.
//
// The functions that run per request append to a caller's buffer and
// allocate nothing in the common case, so an axon or a load generator
// can call them at full rate.
package synapse
