#pragma once
// Knowledge-base triples: `head relation tail` per line (tab- or space-separated), with
// Freebase mids in either spelling and CRLF line endings tolerated.
#include <functional>
#include <string>
#include <vector>

#include "data_pipeline/bad_lines.h"

namespace hrere::data {

struct NamedTriple {
  std::string head;  // normalised entity id
  std::string relation;
  std::string tail;
};

// Calls `visit` for every valid line in order (a KB is streamed, never held as text).
void read_triples(const std::string& path, BadLines& bad_lines,
                  const std::function<void(const NamedTriple&)>& visit);

}  // namespace hrere::data
