#include "data_pipeline/tokenize.h"

#include <cctype>

namespace hrere::data {
namespace {

// Characters that split a word containing letters (the reference's filter set, minus the
// apostrophe and the period, which stay part of words such as "n't" and "mr.").
bool is_splitting_punct(char c) {
  static const std::string_view kSplit = "!\"#$%&()*+,-/:;<=>?@[\\]^_`{|}~\t\n";
  return kSplit.find(c) != std::string_view::npos;
}

// Standalone symbols the reference drops.
bool is_dropped_symbol(std::string_view token) {
  static const std::string_view kDropped = "#$%&*+=@^|";
  return token.size() == 1 && kDropped.find(token[0]) != std::string_view::npos;
}

std::vector<std::string> split_on(std::string_view text, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t stop = text.find(sep, start);
    if (stop == std::string_view::npos) stop = text.size();
    if (stop > start) out.emplace_back(text.substr(start, stop - start));
    start = stop + 1;
  }
  return out;
}

std::vector<std::string_view> whitespace_tokens(std::string_view text) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    std::size_t start = i;
    while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    if (i > start) out.push_back(text.substr(start, i - start));
  }
  return out;
}

// First run of `needle` in `words` at or after `from`; nullopt if none.
std::optional<Span> find_run(const std::vector<std::string>& words,
                             const std::vector<std::string>& needle, int from) {
  if (needle.empty()) return std::nullopt;
  const int n = static_cast<int>(words.size());
  const int m = static_cast<int>(needle.size());
  for (int i = from; i + m <= n; ++i) {
    bool match = true;
    for (int j = 0; j < m && match; ++j) match = words[i + j] == needle[j];
    if (match) return Span{i, i + m};
  }
  return std::nullopt;
}

bool inside(const Span& inner, const Span& outer) {
  return inner.begin >= outer.begin && inner.end <= outer.end;
}

// Searches for `needle`, skipping runs nested inside `other` (e.g. "los angeles" inside a
// mention of "los angeles dodgers") when a later, free run exists.
std::optional<Span> locate(const std::vector<std::string>& words,
                           const std::vector<std::string>& needle,
                           const std::optional<Span>& other) {
  std::optional<Span> first = find_run(words, needle, 0);
  if (!first || !other) return first;
  for (std::optional<Span> run = first; run; run = find_run(words, needle, run->begin + 1)) {
    if (!inside(*run, *other)) return run;
  }
  return first;
}

}  // namespace

std::vector<std::string> split_token(std::string_view token) {
  if (token == "-lrb-") return {"("};
  if (token == "-rrb-") return {")"};
  bool has_alpha = false;
  for (char c : token) has_alpha = has_alpha || std::isalpha(static_cast<unsigned char>(c));
  if (!has_alpha) {
    if (is_dropped_symbol(token)) return {};
    return {std::string(token)};
  }
  std::string spaced(token);
  for (char& c : spaced) {
    if (is_splitting_punct(c)) c = ' ';
  }
  return split_on(spaced, ' ');
}

std::vector<std::string> entity_words(std::string_view name) { return split_token(name); }

std::optional<TokenizedSentence> tokenize_sentence(std::string_view sentence,
                                                   std::string_view head_name,
                                                   std::string_view tail_name) {
  TokenizedSentence out;
  const std::vector<std::string> head_words = entity_words(head_name);
  const std::vector<std::string> tail_words = entity_words(tail_name);
  std::optional<Span> head, tail;
  for (std::string_view token : whitespace_tokens(sentence)) {
    const int at = static_cast<int>(out.words.size());
    if (!head && token == head_name) {
      head = Span{at, at + static_cast<int>(head_words.size())};
      out.words.insert(out.words.end(), head_words.begin(), head_words.end());
    } else if (!tail && token == tail_name) {
      tail = Span{at, at + static_cast<int>(tail_words.size())};
      out.words.insert(out.words.end(), tail_words.begin(), tail_words.end());
    } else {
      for (std::string& w : split_token(token)) out.words.push_back(std::move(w));
    }
  }
  if (!head) head = locate(out.words, head_words, tail);
  if (!tail) tail = locate(out.words, tail_words, head);
  if (!head || !tail) return std::nullopt;
  out.head = *head;
  out.tail = *tail;
  return out;
}

bool is_valid_utf8(std::string_view text) {
  std::size_t i = 0;
  const std::size_t n = text.size();
  while (i < n) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    int extra;
    unsigned min_code;  // smallest code point allowed for this length (no overlong forms)
    if ((c & 0xE0) == 0xC0) {
      extra = 1;
      min_code = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      min_code = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      min_code = 0x10000;
    } else {
      return false;
    }
    unsigned code = c & (0x3F >> extra);
    for (int k = 1; k <= extra; ++k) {
      if (i + k >= n) return false;
      const unsigned char cc = static_cast<unsigned char>(text[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      code = (code << 6) | (cc & 0x3F);
    }
    if (code < min_code || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return false;
    i += extra + 1;
  }
  return true;
}

}  // namespace hrere::data
