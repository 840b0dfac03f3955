#include "synth/relations.h"

#include <utility>
#include <vector>

#include "synth/synth.h"

namespace hrere::synth {
namespace {

std::vector<SynthRelation> make_relation_catalog() {
  std::vector<SynthRelation> catalog(kNumRelations - 1);
  auto set = [&](Rel rel, const char* name, std::vector<std::string> templates) {
    catalog[rel - 1] = SynthRelation{name, std::move(templates)};
  };
  set(kContains, "/location/location/contains",
      {"{F} {T} , located in {H} , {F} .", "{F} in {T} , which lies within {H} {F} .",
       "{F} {H} includes {T} {F} .", "{F} {T} is part of {H} {F} ."});
  set(kAdminDivisions, "/location/country/administrative_divisions",
      {"{F} {T} , a province of {H} , {F} .", "{F} {H} 's northern province of {T} {F} .",
       "{F} {H} 's regional government in {T} {F} ."});
  set(kAdminDivisionOf, "/location/administrative_division/country",
      {"{F} {H} , a region of {T} , {F} .", "{F} {H} province in {T} {F} .",
       "{F} {T} 's southern region of {H} {F} ."});
  set(kCapital, "/location/country/capital",
      {"{F} {T} , the capital of {H} , {F} .", "{F} {H} 's capital , {T} , {F} .",
       "{F} {H} moved its capital to {T} {F} ."});
  set(kNationality, "/people/person/nationality",
      {"{F} {H} , a citizen of {T} , {F} .", "{F} {T} 's ambassador , {H} , {F} .",
       "{F} {H} holds {T} citizenship {F} ."});
  set(kPlaceOfBirth, "/people/person/place_of_birth",
      {"{F} {H} was born in {T} {F} .", "{F} {H} , a native of {T} , {F} .",
       "{F} {T} native {H} {F} ."});
  set(kPlaceLived, "/people/person/place_lived",
      {"{F} {H} , who lives in {T} , {F} .", "{F} {H} moved to {T} {F} .",
       "{F} {T} resident {H} {F} .", "{F} {H} , a longtime resident of {T} , {F} ."});
  set(kPlaceOfDeath, "/people/deceased_person/place_of_death",
      {"{F} {H} died in {T} {F} .", "{F} {H} died at his home in {T} {F} .",
       "{F} {H} , who died last year in {T} , {F} ."});
  set(kChildren, "/people/person/children",
      {"{F} {T} -lrb- daughter of {H} -rrb- {F} .", "{F} {H} 's son , {T} , {F} .",
       "{F} {T} , the child of {H} , {F} ."});
  set(kPersonCompany, "/business/person/company",
      {"{F} {H} , the chief executive of {T} , {F} .", "{F} {T} 's chairman , {H} , {F} .",
       "{F} {H} , an executive at {T} , {F} .", "{F} {H} , who works for {T} , {F} ."});
  set(kFounders, "/business/company/founders",
      {"{F} {T} founded {H} {F} .", "{F} {H} , founded by {T} , {F} .",
       "{F} {T} , the founder of {H} , {F} ."});
  set(kPlaceFounded, "/business/company/place_founded",
      {"{F} {H} was founded in {T} {F} .", "{F} {H} , headquartered in {T} , {F} .",
       "{F} {H} opened its first office in {T} {F} ."});
  set(kEducation, "/people/person/education./education/education/institution",
      {"{F} {H} graduated from {T} {F} .", "{F} {H} studied at {T} {F} .",
       "{F} {T} alumnus {H} {F} .", "{F} {H} earned a degree from {T} {F} ."});
  return catalog;
}

}  // namespace

const std::string& relation_name(Rel rel) {
  static const std::string kNaName = "NA";
  return rel == kNA ? kNaName : synth_relations()[rel - 1].name;
}

const std::vector<SynthRelation>& synth_relations() {
  static const std::vector<SynthRelation> catalog = make_relation_catalog();
  return catalog;
}

const std::vector<std::string>& synth_mention_templates() {
  static const std::vector<std::string> templates = {"{F} {H} {F} {T} {F} .",
                                                     "{F} {T} {F} {H} {F} .",
                                                     "{F} {H} and {T} {F} .",
                                                     "{F} {T} , {F} {H} said {F} .",
                                                     "{F} {H} {F} -lrb- {T} -rrb- {F} .",
                                                     "{F} '' {H} {F} , '' {T} {F} .",
                                                     "{F} {H} , {F} , {T} {F} ."};
  return templates;
}

}  // namespace hrere::synth
