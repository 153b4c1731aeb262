#include "consensus/proposer.h"

#include <algorithm>
#include <numeric>

namespace certledger::consensus {

ProposerSchedule::ProposerSchedule(const ledger::ValidatorSet& set) {
  cumulative_.reserve(set.validators.size());
  for (const auto& v : set.validators) {
    cumulative_.push_back(total_);
    total_ += v.power;
  }
  if (total_ > 2) {
    // floor(P * 0.6180339887) in integers: 0x9E3779B97F4A7C15 / 2^64 is the golden ratio conjugate.
    __extension__ using U128 = unsigned __int128;
    uint64_t m = static_cast<uint64_t>((static_cast<U128>(total_) * 0x9E3779B97F4A7C15ULL) >> 64);
    if (m == 0) m = 1;
    while (std::gcd(m, total_) != 1) --m;
    stride_ = m;
  }
}

size_t ProposerSchedule::ProposerIndex(uint64_t height, uint32_t round) const {
  __extension__ using U128 = unsigned __int128;
  uint64_t slot = static_cast<uint64_t>((static_cast<U128>(height) + round) % total_);
  uint64_t s = static_cast<uint64_t>((static_cast<U128>(slot) * stride_) % total_);
  auto it = std::upper_bound(cumulative_.begin(), cumulative_.end(), s);
  return static_cast<size_t>(it - cumulative_.begin()) - 1;
}

}  // namespace certledger::consensus
