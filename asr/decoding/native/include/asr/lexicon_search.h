// flashlight-text's LexiconDecoder search (v0.0.7, flashlight/lib/text/decoder/LexiconDecoder.cpp, MIT
// licence: ../flashlight/LICENSE) for CTC and a word LM, rewritten for speed with the same arithmetic:
//
//  * hypotheses hold raw pointers to LM states (owned by the LM's state tree, rooted in `root_`), so
//    proposing, merging and pruning candidates touches no shared_ptr reference counts;
//  * the LM is called directly (no virtual call, no shared_ptr returned): `LMT` gives
//    `State* score(State*, int word, float& score)` and `State* finish(State*, float& score)`;
//  * the trie is read from a flat breadth-first copy (children: a short scan, not a hash lookup);
//  * the per-frame hypothesis vectors, and the LM's state tree with its cached word scores (up to
//    kMaxStates states), are kept between utterances. `LMT::states_` counts the states it made;
//  * an unknown-word candidate is scored before its LM state is made (`LMT::peek`), and the state is
//    made only if the candidate is kept: with a large lexicon most of them fall below the threshold.
//
// Everything else is flashlight's code path for CTC with a word-level LM (isLmToken false, no
// transitions): the same candidates in the same order, the same float/double roundings, flashlight's own
// candidatesAdd (Utils.h); candidates that share a state are found by hashing rather than by sorting
// them all (store()). Lexicon-free search and ASG are not covered.

#pragma once

#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>
#include <vector>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wsign-compare"  // flashlight's candidatesStore
#include "flashlight/lib/text/decoder/LexiconDecoder.h"
#include "flashlight/lib/text/decoder/Trie.h"
#include "flashlight/lib/text/decoder/Utils.h"
#pragma GCC diagnostic pop

namespace asr {

using fl::lib::text::kNegativeInfinity;
using fl::lib::text::LexiconDecoderOptions;
using fl::lib::text::TrieNode;
using fl::lib::text::TriePtr;

// A trie node as the search reads it: flashlight's node, its smeared score, and its children as a
// range of LexiconSearch's flat arrays (a short scan instead of an unordered_map lookup).
struct LexNode {
  const TrieNode* node;
  float maxScore;
  int childBegin, childEnd;
};

template <class State>
struct SearchState {
  double score;
  State* lmState;
  const LexNode* lex;
  const SearchState* parent;
  int token;
  int word;
  bool prevBlank;
  double emittingModelScore;
  double lmScore;

  SearchState(double score, State* lmState, const LexNode* lex, const SearchState* parent, int token,
              int word, bool prevBlank = false, double emittingModelScore = 0, double lmScore = 0)
      : score(score), lmState(lmState), lex(lex), parent(parent), token(token), word(word),
        prevBlank(prevBlank), emittingModelScore(emittingModelScore), lmScore(lmScore) {}

  // LexiconDecoderState::compareNoScoreStates, LM states compared by address as LMState::compare does.
  int compareNoScoreStates(const SearchState* node) const {
    if (lmState != node->lmState) {
      return lmState > node->lmState ? 1 : -1;
    } else if (lex != node->lex) {
      return lex > node->lex ? 1 : -1;
    } else if (token != node->token) {
      return token > node->token ? 1 : -1;
    } else if (prevBlank != node->prevBlank) {
      return prevBlank > node->prevBlank ? 1 : -1;
    }
    return 0;
  }
};

template <class LMT, class State>
class LexiconSearch {
 public:
  static constexpr size_t kMaxStates = 1 << 17;  // about 35 MB with KenLM's states
  using Hyp = SearchState<State>;

  LexiconSearch(LexiconDecoderOptions opt, TriePtr lexicon, std::shared_ptr<LMT> lm, int sil, int blank,
                int unk)
      : opt_(opt), lexicon_(std::move(lexicon)), lm_(std::move(lm)), sil_(sil), blank_(blank), unk_(unk) {
    // Breadth first: the children of a node are consecutive, their order the unordered_map's.
    std::vector<const TrieNode*> order{lexicon_->getRoot()};
    for (size_t i = 0; i < order.size(); ++i) {
      for (const auto& child : order[i]->children) {
        order.push_back(child.second.get());
      }
    }
    lex_.resize(order.size());
    childToken_.resize(order.size(), -1);
    int next = 1;
    for (size_t i = 0; i < order.size(); ++i) {
      const int count = static_cast<int>(order[i]->children.size());
      lex_[i] = {order[i], order[i]->maxScore, next, next + count};
      for (int k = next; k < next + count; ++k) {
        childToken_[k] = order[k]->idx;  // the token that leads to the child
      }
      next += count;
    }
  }

  // decodeBegin + decodeStep(all frames) + decodeEnd; then results() reads the final beam, best first.
  void decode(const float* emissions, int T, int N) {
    const LexNode* root = lex_.data();
    if (!root_ || lm_->states_ > kMaxStates) {  // else the LM state tree (and its scores) is kept
      root_.reset();
      lm_->states_ = 0;
      root_ = lm_->start(false);
    }
    if (static_cast<int>(hyp_.size()) < T + 2) {
      hyp_.resize(T + 2);
    }
    hyp_[0].clear();
    hyp_[0].emplace_back(0.0, static_cast<State*>(root_.get()), root, nullptr, sil_, -1);
    std::vector<size_t> idx(N);
    const int nTokens = std::min(opt_.beamSizeToken, N);
    for (int t = 0; t < T; t++) {
      const float* frame = emissions + static_cast<size_t>(t) * N;
      std::iota(idx.begin(), idx.end(), 0);
      if (N > opt_.beamSizeToken) {
        std::partial_sort(idx.begin(), idx.begin() + opt_.beamSizeToken, idx.end(),
                          [frame](const size_t& l, const size_t& r) { return frame[l] > frame[r]; });
      }
      fl::lib::text::candidatesReset(bestScore_, candidates_, candidatePtrs_);
      for (const Hyp& prevHyp : hyp_[t]) {
        const LexNode* prevLex = prevHyp.lex;
        const int prevIdx = prevHyp.token;
        const float lexMaxScore = prevLex == root ? 0 : prevLex->maxScore;
        // (1) Try children
        for (int r = 0; r < nTokens; ++r) {
          const int n = static_cast<int>(idx[r]);
          int k = prevLex->childBegin;
          while (k < prevLex->childEnd && childToken_[k] != n) {
            ++k;
          }
          if (k == prevLex->childEnd) {
            continue;
          }
          const LexNode* lex = &lex_[k];
          const double emittingModelScore = frame[n];
          double score = prevHyp.score + emittingModelScore;
          if (n == sil_) {
            score += opt_.silScore;
          }
          State* lmState = nullptr;
          double lmScore = 0.;
          if (prevHyp.prevBlank || n != prevIdx) {  // we eat up a new token
            if (lex->childEnd > lex->childBegin) {
              lmState = prevHyp.lmState;
              lmScore = lex->maxScore - lexMaxScore;
              add(score + opt_.lmWeight * lmScore, lmState, lex, &prevHyp, n, -1, false,
                  prevHyp.emittingModelScore + emittingModelScore, prevHyp.lmScore + lmScore);
            }
          }
          const auto& labels = lex->node->labels;
          for (auto label : labels) {  // a word of the lexicon
            if (prevLex == root && prevHyp.token == n) {
              continue;  // CTC: one-token words need a blank between two of them
            }
            float value;
            lmState = lm_->score(prevHyp.lmState, label, value);
            lmScore = value - lexMaxScore;
            add(score + opt_.lmWeight * lmScore + opt_.wordScore, lmState, root, &prevHyp, n, label,
                false, prevHyp.emittingModelScore + emittingModelScore, prevHyp.lmScore + lmScore);
          }
          if (labels.empty() && (opt_.unkScore > kNegativeInfinity)) {  // an unknown word
            // Scored first (LMT::peek), its LM state made only if add() keeps it: with a large
            // lexicon most of these candidates (one per partial word) fall below the threshold.
            lmScore = lm_->peek(prevHyp.lmState, unk_) - lexMaxScore;
            const double unkScore = score + opt_.lmWeight * lmScore + opt_.unkScore;
            if (unkScore >= bestScore_ - opt_.beamThreshold) {  // else add() neither keeps it nor
              float value;                                       // raises the best score
              lmState = lm_->score(prevHyp.lmState, unk_, value);
              add(unkScore, lmState, root, &prevHyp, n, unk_, false,
                  prevHyp.emittingModelScore + emittingModelScore, prevHyp.lmScore + lmScore);
            }
          }
        }
        // (2) Try the same lexicon node
        if (!prevHyp.prevBlank || prevLex == root) {
          const int n = prevLex == root ? sil_ : prevIdx;
          const double emittingModelScore = frame[n];
          double score = prevHyp.score + emittingModelScore;
          if (n == sil_) {
            score += opt_.silScore;
          }
          add(score, prevHyp.lmState, prevLex, &prevHyp, n, -1, false,
              prevHyp.emittingModelScore + emittingModelScore, prevHyp.lmScore);
        }
        // (3) Try blank
        const double emittingModelScore = frame[blank_];
        add(prevHyp.score + emittingModelScore, prevHyp.lmState, prevLex, &prevHyp, blank_, -1, true,
            prevHyp.emittingModelScore + emittingModelScore, prevHyp.lmScore);
      }
      store(hyp_[t + 1], false);
    }
    // decodeEnd
    fl::lib::text::candidatesReset(bestScore_, candidates_, candidatePtrs_);
    bool hasNiceEnding = false;
    for (const Hyp& prevHyp : hyp_[T]) {
      if (prevHyp.lex == root) {
        hasNiceEnding = true;
        break;
      }
    }
    for (const Hyp& prevHyp : hyp_[T]) {
      if (!hasNiceEnding || prevHyp.lex == root) {
        float lmScore;
        State* lmState = lm_->finish(prevHyp.lmState, lmScore);
        add(prevHyp.score + opt_.lmWeight * lmScore, lmState, prevHyp.lex, &prevHyp, sil_, -1, false,
            prevHyp.emittingModelScore, prevHyp.lmScore + lmScore);
      }
    }
    store(hyp_[T + 1], true);
    frames_ = T + 1;
  }

  // The final hypotheses, best first: (score, tokens (frames + 2: the start, one per frame, the end)).
  int size() const { return frames_ > 0 ? static_cast<int>(hyp_[frames_].size()) : 0; }
  int length() const { return frames_ + 1; }

  double result(int i, std::vector<int>& tokens) const {
    const Hyp* node = &hyp_[frames_].at(i);
    tokens.assign(frames_ + 1, -1);
    for (int k = frames_; node != nullptr && k >= 0; --k, node = node->parent) {
      tokens[k] = node->token;
    }
    return hyp_[frames_][i].score;
  }

 private:
  template <class... Args>
  void add(double score, const Args&... args) {
    fl::lib::text::candidatesAdd(candidates_, bestScore_, opt_.beamThreshold, score, args...);
  }

  // flashlight's candidatesStore with the same result, grouping by hashing instead of sorting every
  // candidate: the candidates above the threshold that share a state (LM state, trie node, token,
  // blank flag) merge into the best of them, in descending score order as flashlight merges them
  // (sorted by state, then score); then the best beamSize by score, as flashlight selects them.
  void store(std::vector<Hyp>& outputs, bool returnSorted) {
    outputs.clear();
    candidatePtrs_.clear();
    if (candidates_.empty()) {
      return;
    }
    const double threshold = bestScore_ - opt_.beamThreshold;
    size_t capacity = 64;
    while (capacity < 2 * candidates_.size()) {
      capacity *= 2;
    }
    table_.assign(capacity, -1);
    group_.clear();
    count_.clear();
    bool shared = false;
    for (Hyp& candidate : candidates_) {
      if (candidate.score < threshold) {
        continue;
      }
      size_t h = hashOf(candidate) & (capacity - 1);
      while (table_[h] >= 0 && candidatePtrs_[table_[h]]->compareNoScoreStates(&candidate) != 0) {
        h = (h + 1) & (capacity - 1);
      }
      if (table_[h] < 0) {
        table_[h] = static_cast<int>(candidatePtrs_.size());
        candidatePtrs_.push_back(&candidate);
        count_.push_back(1);
      } else {
        shared = true;
        ++count_[table_[h]];
      }
      group_.push_back({table_[h], &candidate});
    }
    if (shared) {  // merge each group of several candidates, best first
      const auto& count = count_;
      group_.erase(std::remove_if(group_.begin(), group_.end(),
                                  [&count](const auto& g) { return count[g.first] == 1; }),
                   group_.end());
      std::sort(group_.begin(), group_.end(), [](const auto& a, const auto& b) {
        return a.first != b.first ? a.first < b.first : a.second->score > b.second->score;
      });
      for (size_t i = 0; i < group_.size();) {
        size_t j = i + 1;
        while (j < group_.size() && group_[j].first == group_[i].first) {
          ++j;
        }
        {
          Hyp* merged = group_[i].second;
          for (size_t k = i + 1; k < j; ++k) {
            const double score = group_[k].second->score;
            const double maxScore = std::max(merged->score, score);
            if (opt_.logAdd) {
              const double minScore = std::min(merged->score, score);
              merged->score = maxScore + std::log1p(std::exp(minScore - maxScore));
            } else {
              merged->score = maxScore;
            }
          }
          candidatePtrs_[group_[i].first] = merged;
        }
        i = j;
      }
    }
    auto byScore = [](const Hyp* a, const Hyp* b) { return a->score > b->score; };
    const int nValid = static_cast<int>(candidatePtrs_.size());
    const int finalSize = std::min(nValid, opt_.beamSize);
    if (!returnSorted && nValid > opt_.beamSize) {
      std::nth_element(candidatePtrs_.begin(), candidatePtrs_.begin() + finalSize, candidatePtrs_.end(),
                       byScore);
    } else if (returnSorted) {
      std::partial_sort(candidatePtrs_.begin(), candidatePtrs_.begin() + finalSize, candidatePtrs_.end(),
                        byScore);
    }
    for (int i = 0; i < finalSize; i++) {
      outputs.emplace_back(std::move(*candidatePtrs_[i]));
    }
  }

  static size_t hashOf(const Hyp& h) {
    size_t x = reinterpret_cast<size_t>(h.lmState) * 0x9E3779B97F4A7C15ULL;
    x ^= reinterpret_cast<size_t>(h.lex) + 0x632BE59BD9B4E019ULL + (x << 6) + (x >> 2);
    x ^= static_cast<size_t>(h.token * 2 + h.prevBlank) * 0xC2B2AE3D27D4EB4FULL;
    return x ^ (x >> 29);
  }

  LexiconDecoderOptions opt_;
  TriePtr lexicon_;
  std::vector<LexNode> lex_;     // the trie, breadth first (the root first)
  std::vector<int> childToken_;  // per node but the root: the token from its parent
  std::shared_ptr<LMT> lm_;
  int sil_, blank_, unk_;
  std::shared_ptr<fl::lib::text::LMState> root_;
  std::vector<std::vector<Hyp>> hyp_;
  std::vector<Hyp> candidates_;
  std::vector<Hyp*> candidatePtrs_;
  std::vector<int> table_;                     // store(): open-addressing hash table of groups
  std::vector<std::pair<int, Hyp*>> group_;    // store(): (group, candidate) of every valid one
  std::vector<int> count_;                     // store(): candidates per group
  double bestScore_ = kNegativeInfinity;
  int frames_ = 0;
};

}  // namespace asr
