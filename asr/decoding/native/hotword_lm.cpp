// Native hotword LM for asr.decoding, so that hotwords cost the lexicon search next to nothing (the Python
// LM of the fallback doubles its time with 1,000 of them): flashlight-text's LexiconDecoder scoring words
// with KenLM + the hotword automaton of asr/decoding/hotwords.py, all in C++, behind an extern "C" API
// that asr/decoding/native/__init__.py loads with ctypes.
//
// It links the libflashlight-text(.so / -kenlm.so) of the installed flashlight-text wheel (0.0.7, built
// with the old libstdc++ string ABI: compile with -D_GLIBCXX_USE_CXX11_ABI=0) and uses the headers of
// its tag, vendored under include/ (MIT licence: include/flashlight/LICENSE).
//
// The numbers are those of the Python path (asr/decoding/lm_hooks.py make_word_lm): a word scores
// weight * KenLM log10 score (in double, as Python does) + the hotword gain, rounded once to float.
// With an empty hotword table it is flashlight's KenLM path (the engine's lexicon search without
// hotwords), caching each word's score in its state. The search is flashlight's LexiconDecoder,
// rewritten without reference counting (include/asr/lexicon_search.h).

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "asr/lexicon_search.h"
#include "flashlight/lib/text/decoder/LexiconDecoder.h"
#include "flashlight/lib/text/decoder/Trie.h"
#include "flashlight/lib/text/decoder/lm/KenLM.h"
#include "flashlight/lib/text/dictionary/Dictionary.h"

namespace {

using namespace fl::lib::text;

constexpr int kRoot = 0;

// HotwordGraph of asr/decoding/hotwords.py in word mode (no separator), from its exported table.
class HotwordGraph {
 public:
  HotwordGraph(int nNodes, const double* potential, const double* banked, int nEdges, const int* parent,
               const int* unit, const int* child)
      : children_(nNodes), path_(nNodes), potential_(potential, potential + nNodes),
        banked_(banked, banked + nNodes) {
    for (int e = 0; e < nEdges; ++e) {
      children_[parent[e]][unit[e]] = child[e];
    }
    // Nodes are numbered in creation order: a parent comes before its children.
    for (int e = 0; e < nEdges; ++e) {
      path_[child[e]] = path_[parent[e]];
      path_[child[e]].push_back(unit[e]);
    }
  }

  bool empty() const { return children_.size() <= 1; }

  std::pair<double, int> step(int node, int unit) {
    if (node == kRoot) {  // the common case: no cache needed
      auto it = children_[kRoot].find(unit);
      if (it == children_[kRoot].end()) {
        return {0.0, kRoot};
      }
    }
    const uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(node)) << 32) |
                         static_cast<uint32_t>(unit);
    auto cached = cache_.find(key);
    if (cached != cache_.end()) {
      return cached->second;
    }
    auto result = transition(node, unit);
    cache_.emplace(key, result);
    return result;
  }

  double finish(int node) const { return node <= kRoot ? 0.0 : settle(node); }

 private:
  double settle(int node) const { return node > kRoot ? banked_[node] - potential_[node] : 0.0; }

  int nodeOf(const std::vector<int>& units, size_t start) const {
    int node = kRoot;
    for (size_t i = start; i < units.size(); ++i) {
      auto it = children_[node].find(units[i]);
      if (it == children_[node].end()) {
        return -1;
      }
      node = it->second;
    }
    return node;
  }

  std::pair<double, int> transition(int node, int unit) const {
    auto it = children_[node].find(unit);
    if (it != children_[node].end()) {
      const int child = it->second;
      double gain = potential_[child] - potential_[node > kRoot ? node : kRoot];
      if (children_[child].empty()) {  // a leaf: the hotword is complete, lock it in
        return {gain + settle(child), kRoot};
      }
      return {gain, child};
    }
    // Mismatch: settle the partial match, then continue from the longest suffix that starts a hotword.
    double gain = settle(node);
    std::vector<int> units = path_[node];
    units.push_back(unit);
    for (size_t start = 1; start <= units.size(); ++start) {
      const int target = nodeOf(units, start);
      if (target < 0) {
        continue;
      }
      if (target > kRoot && children_[target].empty()) {
        return {gain + potential_[target] + settle(target), kRoot};
      }
      return {gain + (target > kRoot ? potential_[target] : 0.0), target};
    }
    return {gain, kRoot};  // not reached: the empty suffix is the root
  }

  std::vector<std::unordered_map<int, int>> children_;
  std::vector<std::vector<int>> path_;
  std::vector<double> potential_;
  std::vector<double> banked_;
  std::unordered_map<uint64_t, std::pair<double, int>> cache_;
};

// State: the inner KenLM state, the hotword node, and this word's score once computed; and one word's
// score after it that peek() computed without making that word's state.
struct HotwordLMState : LMState {
  LMStatePtr inner;
  int node = kRoot;
  bool scored = false;
  float score = 0.0f;
  int peekWord = -1;  // -1: none
  float peekScore = 0.0f;
};

// The LM's state tree without an allocation per state: states live in blocks that are reused after
// clear(), and each state's child for a word is found in one open-addressing table keyed by (parent,
// word) rather than in LMState::children (a hash map per state). Each state's KenLM state is still
// flashlight's (one shared_ptr), owned by that state alone.
class StateTree {
 public:
  HotwordLMState* find(const HotwordLMState* parent, int word) const {
    for (size_t h = slotOf(parent, word);; h = (h + 1) & (table_.size() - 1)) {
      const Slot& slot = table_[h];
      if (slot.child == nullptr) {
        return nullptr;
      }
      if (slot.parent == parent && slot.word == word) {
        return slot.child;
      }
    }
  }

  // A fresh state (unscored) registered as `parent`'s child for `word`.
  HotwordLMState* make(const HotwordLMState* parent, int word) {
    if (2 * (used_ + 1) > table_.size()) {
      grow();
    }
    if (used_ == blocks_.size() * kBlock) {
      blocks_.push_back(std::make_unique<HotwordLMState[]>(kBlock));
    }
    HotwordLMState* state = &blocks_[used_ / kBlock][used_ % kBlock];
    ++used_;
    size_t h = slotOf(parent, word);
    while (table_[h].child != nullptr) {
      h = (h + 1) & (table_.size() - 1);
    }
    table_[h] = {parent, word, state};
    return state;
  }

  size_t size() const { return used_; }

  // Forgets every state (their KenLM states are freed; the blocks and the table are kept).
  void clear() {
    for (size_t i = 0; i < used_; ++i) {
      HotwordLMState& state = blocks_[i / kBlock][i % kBlock];
      state.inner.reset();
      state.node = kRoot;
      state.scored = false;
      state.score = 0.0f;
      state.peekWord = -1;
    }
    used_ = 0;
    std::fill(table_.begin(), table_.end(), Slot{});
  }

 private:
  static constexpr size_t kBlock = 4096;
  struct Slot {
    const HotwordLMState* parent = nullptr;
    int word = 0;
    HotwordLMState* child = nullptr;
  };

  size_t slotOf(const HotwordLMState* parent, int word) const {
    uint64_t x = reinterpret_cast<uintptr_t>(parent) * 0x9E3779B97F4A7C15ULL;
    x ^= (static_cast<uint64_t>(static_cast<uint32_t>(word)) + 0x632BE59BD9B4E019ULL) * 0xC2B2AE3D27D4EB4FULL;
    return static_cast<size_t>(x ^ (x >> 29)) & (table_.size() - 1);
  }

  void grow() {
    std::vector<Slot> old = std::move(table_);
    table_.assign(std::max<size_t>(old.size() * 2, 1 << 12), Slot{});
    for (const Slot& slot : old) {
      if (slot.child != nullptr) {
        size_t h = slotOf(slot.parent, slot.word);
        while (table_[h].child != nullptr) {
          h = (h + 1) & (table_.size() - 1);
        }
        table_[h] = slot;
      }
    }
  }

  std::vector<std::unique_ptr<HotwordLMState[]>> blocks_;
  size_t used_ = 0;
  std::vector<Slot> table_ = std::vector<Slot>(1 << 12);
};

// Word LM = weight * KenLM (if any) + hotword gains. States form a tree over word histories (one child
// per word, as flashlight's KenLM and the Python LM have): the decoder merges hypotheses by identity.
// start() begins a new tree (the states of the last one are gone).
class HotwordLM : public LM {
 public:
  HotwordLM(std::shared_ptr<KenLM> ken, double weight, std::unique_ptr<HotwordGraph> graph)
      : ken_(std::move(ken)), weight_(weight), graph_(std::move(graph)),
        root_(std::make_shared<HotwordLMState>()) {}

  LMStatePtr start(bool startWithNothing) override {
    tree_.clear();
    states_ = 0;
    *root_ = HotwordLMState();
    if (ken_) {
      root_->inner = ken_->start(startWithNothing);
    }
    return root_;
  }

  // (The LM interface; LexiconSearch calls the raw-pointer versions below.) The state returned is
  // owned by the tree, valid until the next start().
  std::pair<LMStatePtr, float> score(const LMStatePtr& state, const int usrTokenIdx) override {
    float value;
    HotwordLMState* out = score(static_cast<HotwordLMState*>(state.get()), usrTokenIdx, value);
    return {LMStatePtr(root_, out), value};
  }

  std::pair<LMStatePtr, float> finish(const LMStatePtr& state) override {
    float value;
    HotwordLMState* out = finish(static_cast<HotwordLMState*>(state.get()), value);
    return {LMStatePtr(root_, out), value};
  }

  // score() and finish() without shared_ptrs, for LexiconSearch: the state after `in` (owned by the tree).
  HotwordLMState* score(HotwordLMState* in, int word, float& score) {
    HotwordLMState* out = childOf(in, word);
    scoreInto(in, word, out);
    score = out->score;
    return out;
  }

  HotwordLMState* finish(HotwordLMState* in, float& score) {
    HotwordLMState* out = childOf(in, -1);
    score = finishInto(in, out);
    return out;
  }

  // The score of `word` after `in`, as score() gives it, without making the word's state: the search
  // asks this for the unknown word at every partial word, and most of those candidates fall below the
  // beam threshold (it makes the state, with score(), for those it keeps).
  float peek(HotwordLMState* in, int word) {
    if (HotwordLMState* out = tree_.find(in, word)) {
      return out->score;
    }
    if (in->peekWord != word) {
      HotwordLMState scratch;
      scoreInto(in, word, &scratch);
      in->peekWord = word;
      in->peekScore = scratch.score;
    }
    return in->peekScore;
  }

  // The weighted LM score of a word after `state`, without hotword gains (the trie's look-ahead).
  float lmScore(const LMStatePtr& state, int word) {
    if (!ken_) {
      return 0.0f;
    }
    auto* in = static_cast<HotwordLMState*>(state.get());
    auto inner = ken_->score(in->inner, word);
    in->inner->children.erase(word);
    return static_cast<float>(weight_ * static_cast<double>(inner.second));
  }

 private:
  HotwordLMState* childOf(HotwordLMState* in, int word) {
    if (HotwordLMState* out = tree_.find(in, word)) {
      return out;
    }
    ++states_;
    return tree_.make(in, word);
  }

  void scoreInto(HotwordLMState* in, int word, HotwordLMState* out) {
    if (out->scored) {
      return;
    }
    double value = 0.0;
    if (ken_) {
      auto inner = ken_->score(in->inner, word);
      in->inner->children.erase(word);  // flashlight's KenLM keeps each state in its parent: ours does
      out->inner = std::move(inner.first);
      value = weight_ * static_cast<double>(inner.second);
    }
    int node = kRoot;
    if (!graph_->empty()) {
      auto step = graph_->step(in->node, word);
      value += step.first;
      node = step.second;
    }
    out->node = node;
    out->score = static_cast<float>(value);
    out->scored = true;
  }

  float finishInto(HotwordLMState* in, HotwordLMState* out) {
    double value = graph_->finish(in->node);
    if (ken_) {
      auto inner = ken_->finish(in->inner);
      in->inner->children.erase(-1);
      out->inner = std::move(inner.first);
      value += weight_ * static_cast<double>(inner.second);
    }
    return static_cast<float>(value);
  }

  std::shared_ptr<KenLM> ken_;
  double weight_;
  std::unique_ptr<HotwordGraph> graph_;
  std::shared_ptr<HotwordLMState> root_;
  StateTree tree_;

 public:
  size_t states_ = 0;  // states made by childOf since the search last started a tree (LexiconSearch)
};

struct Handle {
  std::shared_ptr<HotwordLM> lm;
  std::shared_ptr<Trie> trie;
  std::unique_ptr<asr::LexiconSearch<HotwordLM, HotwordLMState>> search;
  std::vector<int> tokens;  // the last result read
};

void setError(char* err, int errLen, const char* message) {
  if (err != nullptr && errLen > 0) {
    std::snprintf(err, static_cast<size_t>(errLen), "%s", message);
  }
}

}  // namespace

extern "C" {

#define ASR_API __attribute__((visibility("default")))

ASR_API int asr_hotword_lm_abi_version() { return 1; }

// words: n_words '\n'-separated UTF-8 words (the last one "<unk>", the decoder's unknown word);
// spellings of the first n_words - 1: tokens [offsets[i], offsets[i + 1]) of spell_tokens, separator
// included. lm_path NULL: no KenLM. Hotword table: see HotwordGraph.native_table in hotwords.py.
ASR_API void* asr_hotword_lm_create(const char* lm_path, double lm_weight, const char* words, int n_words,
                            const int* offsets, const int* spell_tokens, int n_tokens, int sep, int blank,
                            int beam_size, int beam_size_token, double beam_threshold, double word_score,
                            double unk_score, int log_add, int n_nodes, const double* potential,
                            const double* banked, int n_edges, const int* edge_parent,
                            const int* edge_unit, const int* edge_child, char* err, int err_len) {
  try {
    std::vector<std::string> entries;
    entries.reserve(n_words);
    const char* p = words;
    for (int i = 0; i < n_words; ++i) {
      const char* end = std::strchr(p, '\n');
      if (end == nullptr) {
        end = p + std::strlen(p);
      }
      entries.emplace_back(p, end);
      p = *end ? end + 1 : end;
    }
    std::shared_ptr<KenLM> ken;
    if (lm_path != nullptr) {
      ken = std::make_shared<KenLM>(std::string(lm_path), Dictionary(entries));
    }
    auto graph = std::make_unique<HotwordGraph>(n_nodes, potential, banked, n_edges, edge_parent,
                                                edge_unit, edge_child);
    auto handle = std::make_unique<Handle>();
    handle->lm = std::make_shared<HotwordLM>(ken, lm_weight, std::move(graph));
    handle->trie = std::make_shared<Trie>(n_tokens, sep);
    const int unk = n_words - 1;
    auto start = handle->lm->start(false);
    for (int i = 0; i < unk; ++i) {
      std::vector<int> spelling(spell_tokens + offsets[i], spell_tokens + offsets[i + 1]);
      handle->trie->insert(spelling, i, handle->lm->lmScore(start, i));
    }
    start.reset();
    handle->trie->smear(SmearingMode::MAX);
    LexiconDecoderOptions options{
        beam_size, beam_size_token, beam_threshold, 1.0, word_score, unk_score, 0.0, log_add != 0,
        CriterionType::CTC};
    handle->search = std::make_unique<asr::LexiconSearch<HotwordLM, HotwordLMState>>(
        options, handle->trie, handle->lm, sep, blank, unk);
    return handle.release();
  } catch (const std::exception& e) {
    setError(err, err_len, e.what());
  } catch (...) {
    setError(err, err_len, "unknown C++ exception");
  }
  return nullptr;
}

// Runs the search over emissions (frames, n) float32 C-contiguous; returns the number of final
// hypotheses (in flashlight's order), or -1 on error.
ASR_API int asr_hotword_lm_decode(void* h, const float* emissions, int frames, int n, char* err, int err_len) {
  auto* handle = static_cast<Handle*>(h);
  try {
    handle->search->decode(emissions, frames, n);
    return handle->search->size();
  } catch (const std::exception& e) {
    setError(err, err_len, e.what());
  } catch (...) {
    setError(err, err_len, "unknown C++ exception");
  }
  return -1;
}

// Every result's length: the start, one token per frame, the end.
ASR_API int asr_hotword_lm_result_length(void* h, int i) {
  auto* handle = static_cast<Handle*>(h);
  return i >= 0 && i < handle->search->size() ? handle->search->length() : 0;
}

// Copies hypothesis i's tokens (result_length of them) into `tokens`; returns its score.
ASR_API double asr_hotword_lm_result(void* h, int i, int* tokens) {
  auto* handle = static_cast<Handle*>(h);
  if (i < 0 || i >= handle->search->size()) {
    return 0.0;
  }
  const double score = handle->search->result(i, handle->tokens);
  std::memcpy(tokens, handle->tokens.data(), handle->tokens.size() * sizeof(int));
  return score;
}

ASR_API void asr_hotword_lm_free(void* h) { delete static_cast<Handle*>(h); }

}  // extern "C"
