// Canonical encoding of ledger records: Encode() gives the bytes that are hashed, signed, stored
// and sent; Decode() accepts exactly those bytes and nothing else (truncated, trailing, oversized
// or malformed input gives Status::InvalidArgument with the offset and cause).
// Layouts: docs/FORMAT.md. Supported T: every record in types.h and state.h listed in
// encoding.cc's instantiation list.
#pragma once

#include "ledger/bytes.h"
#include "ledger/status.h"

namespace certledger::ledger {

template <class T>
Bytes Encode(const T& value);

template <class T>
Result<T> Decode(ByteSpan in);

}  // namespace certledger::ledger
