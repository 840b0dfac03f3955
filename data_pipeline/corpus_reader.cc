#include "data_pipeline/corpus_reader.h"

#include <nlohmann/json.hpp>

#include "core/errors.h"
#include "data_pipeline/text_file.h"

namespace hrere::data {
namespace {

constexpr std::string_view kEndMarker = "###END###";

// Shared checks and tokenisation for one parsed record; returns false (after reporting) when
// the record is unusable.
bool build_sentence(const LineReader& reader, BadLines& bad_lines, std::string_view head_id,
                    std::string_view tail_id, std::string_view head_name,
                    std::string_view tail_name, std::string_view relation, std::string_view text,
                    Sentence& out) {
  auto bad = [&](const std::string& reason) {
    bad_lines.report(reader.path(), reader.line_number(), reason);
    return false;
  };
  if (head_id.empty() || tail_id.empty()) return bad("empty entity id");
  if (head_name.empty() || tail_name.empty()) return bad("empty entity name");
  if (relation.empty()) return bad("empty relation");
  if (trim(text).empty()) return bad("empty sentence");
  std::optional<TokenizedSentence> tokens = tokenize_sentence(text, head_name, tail_name);
  if (!tokens) {
    return bad("entity name '" + std::string(head_name) + "' or '" + std::string(tail_name) +
               "' not found in the sentence");
  }
  out.head = normalize_entity_id(head_id);
  out.tail = normalize_entity_id(tail_id);
  out.relation = std::string(relation);
  out.words = std::move(tokens->words);
  out.head_span = tokens->head;
  out.tail_span = tokens->tail;
  out.line = reader.line_number();
  return true;
}

}  // namespace

std::vector<Sentence> read_nyt10(const std::string& path, BadLines& bad_lines) {
  std::vector<Sentence> out;
  for_each_input_line(path, bad_lines, [&](const std::string& line, const LineReader& reader) {
    std::vector<std::string_view> fields = split_fields(line, '\t');
    std::string_view text;
    if (fields.size() == 7 && trim(fields[6]) == kEndMarker) {
      text = fields[5];
    } else if (fields.size() == 6) {
      // Cut-off sentences lack the end marker; they are kept as they are.
      text = trim(fields[5]);
      if (text.size() >= kEndMarker.size() &&
          text.substr(text.size() - kEndMarker.size()) == kEndMarker) {
        text.remove_suffix(kEndMarker.size());
      }
    } else {
      bad_lines.report(path, reader.line_number(),
                       "expected 6 tab-separated fields (7 with a final ###END###), found " +
                           std::to_string(fields.size()));
      return;
    }
    Sentence sentence;
    if (build_sentence(reader, bad_lines, trim(fields[0]), trim(fields[1]), trim(fields[2]),
                       trim(fields[3]), trim(fields[4]), text, sentence)) {
      out.push_back(std::move(sentence));
    }
  });
  return out;
}

std::vector<Sentence> read_jsonl(const std::string& path, BadLines& bad_lines) {
  std::vector<Sentence> out;
  for_each_input_line(path, bad_lines, [&](const std::string& line, const LineReader& reader) {
    try {
      const nlohmann::json record = nlohmann::json::parse(line);
      const auto& h = record.at("h");
      const auto& t = record.at("t");
      Sentence sentence;
      if (build_sentence(reader, bad_lines, h.at("id").get<std::string>(),
                         t.at("id").get<std::string>(), h.at("name").get<std::string>(),
                         t.at("name").get<std::string>(), record.at("relation").get<std::string>(),
                         record.at("text").get<std::string>(), sentence)) {
        out.push_back(std::move(sentence));
      }
    } catch (const nlohmann::json::exception& e) {
      bad_lines.report(path, reader.line_number(), std::string("bad JSON record: ") + e.what());
    }
  });
  return out;
}

std::vector<Sentence> read_corpus(const std::string& path, CorpusFormat format,
                                  BadLines& bad_lines) {
  return format == CorpusFormat::kNyt10 ? read_nyt10(path, bad_lines) : read_jsonl(path, bad_lines);
}

}  // namespace hrere::data
