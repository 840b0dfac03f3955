#pragma once
// The world's relations by id (NA = 0; relation i + 1 is synth_relations()[i]) and their
// names; relations.cc also holds the public catalog of names and sentence templates.
#include <cstdint>
#include <string>

namespace hrere::synth {

enum Rel : std::uint8_t {
  kNA = 0,
  kContains,         // region -> city, country -> city, city -> university
  kAdminDivisions,   // country -> region
  kAdminDivisionOf,  // region -> country
  kCapital,          // country -> city (the KB also holds contains(country, capital))
  kNationality,      // person -> country of the birth city
  kPlaceOfBirth,     // person -> city
  kPlaceLived,       // person -> city
  kPlaceOfDeath,     // person -> city
  kChildren,         // parent -> child
  kPersonCompany,    // person -> company
  kFounders,         // company -> person
  kPlaceFounded,     // company -> city
  kEducation,        // person -> university
  kNumRelations,
};

// "NA" or the relation's Freebase name.
const std::string& relation_name(Rel rel);

}  // namespace hrere::synth
