#pragma once
// Readers for relation-extraction corpora: NYT10 text (Lin et al. 2016 release) and the
// OpenNRE JSON-lines variant. Both produce tokenised sentences with entity spans.
#include <string>
#include <vector>

#include "core/choice.h"
#include "data_pipeline/bad_lines.h"
#include "data_pipeline/tokenize.h"

namespace hrere::data {

struct Sentence {
  std::string head;  // normalised entity id ("m.027rn")
  std::string tail;
  std::string relation;  // as written in the file
  std::vector<std::string> words;
  Span head_span;
  Span tail_span;
  std::size_t line = 0;  // 1-based line in the source file
};

enum class CorpusFormat { kNyt10, kJsonLines };

constexpr core::Choices<CorpusFormat, 2> choices(CorpusFormat) {
  return {{{CorpusFormat::kNyt10, "nyt10"}, {CorpusFormat::kJsonLines, "jsonl"}}};
}

// NYT10 text: `head_mid tail_mid head_name tail_name relation sentence`, tab-separated; the
// sentence ends in " ###END###" (train) or ###END### is a 7th field (test).
std::vector<Sentence> read_nyt10(const std::string& path, BadLines& bad_lines);

// OpenNRE JSON lines: {"text", "relation", "h": {"id", "name"}, "t": {"id", "name"}}.
std::vector<Sentence> read_jsonl(const std::string& path, BadLines& bad_lines);

std::vector<Sentence> read_corpus(const std::string& path, CorpusFormat format,
                                  BadLines& bad_lines);

}  // namespace hrere::data
