#pragma once
// Tokenisation of NYT10-style sentences, following the reference implementation: entity
// names written with '_' become several words, -lrb-/-rrb- become brackets, punctuation
// inside a word splits it, and the head and tail spans are located in the resulting words.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hrere::data {

// Half-open word range [begin, end) of an entity mention.
struct Span {
  int begin = 0;
  int end = 0;
  bool operator==(const Span& o) const { return begin == o.begin && end == o.end; }
};

// Splits one raw token into words (may return none, e.g. for a lone '#').
std::vector<std::string> split_token(std::string_view token);

// Words of an entity name such as "los_angeles_dodgers".
std::vector<std::string> entity_words(std::string_view name);

struct TokenizedSentence {
  std::vector<std::string> words;
  Span head;
  Span tail;
};

// Tokenises `sentence` and finds the spans of `head_name` and `tail_name`. An exact raw token
// equal to the name wins (first occurrence); otherwise the name's words are searched for as a
// contiguous run, preferring a run that does not sit inside the other entity's span. Returns
// nullopt when either entity cannot be found.
std::optional<TokenizedSentence> tokenize_sentence(std::string_view sentence,
                                                   std::string_view head_name,
                                                   std::string_view tail_name);

// True when `text` is well-formed UTF-8.
bool is_valid_utf8(std::string_view text);

}  // namespace hrere::data
