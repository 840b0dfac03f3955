#pragma once
// The relation label set of the RE data: relation2id.txt, optionally extended by a remap
// table (the reference maps several NYT10 relation names onto Freebase relation names).
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

namespace hrere::data {

class RelationTable {
 public:
  // Reads relation2id.txt: a count line, then `name id` lines with ids 0..count-1; id 0 is NA.
  static RelationTable read(const std::string& path);

  // Applies `name -> new name` to the labels: remapped names resolve to the target's id;
  // a target that relation2id.txt lacks gets the next free id.
  void apply_remap(const std::map<std::string, std::string>& remap);

  // Id of a relation name as written in a corpus (remap applied); -1 when unknown.
  int id_of(const std::string& name) const;
  const std::vector<std::string>& names() const { return names_; }
  int size() const { return static_cast<int>(names_.size()); }

 private:
  std::vector<std::string> names_;            // by id
  std::unordered_map<std::string, int> ids_;  // name as written -> id
};

}  // namespace hrere::data
