// Fixed keys shared by the fuzz targets and the corpus generator (make_corpus.cc): the seeds of
// fuzz/corpus/frame_open are sealed under FrameOpenKey(), so that they open.
#pragma once

#include <cstddef>
#include <cstdint>

#include "network/channel.h"

namespace certledger::fuzz {

inline network::channel::AeadKey FrameOpenKey() {
  network::channel::AeadKey k;
  for (size_t i = 0; i < k.bytes.size(); ++i) k.bytes[i] = static_cast<uint8_t>(0xa0 + i);
  return k;
}

}  // namespace certledger::fuzz
