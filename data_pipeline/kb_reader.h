#pragma once
// Knowledge-base triples: `head relation tail` per line (tab- or space-separated), with
// Freebase mids in either spelling and CRLF line endings tolerated.
#include <string>
#include <vector>

#include "data_pipeline/bad_lines.h"

namespace hrere::data {

struct NamedTriple {
  std::string head;  // normalised entity id
  std::string relation;
  std::string tail;
};

std::vector<NamedTriple> read_triples(const std::string& path, BadLines& bad_lines);

}  // namespace hrere::data
