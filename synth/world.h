#pragma once
// The world model: typed entities and their facts (the KB), and the choice of the entity
// pairs the text talks about (the RE pairs), some implied by the world's composition rules.
#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "synth/relations.h"
#include "synth/rng.h"
#include "synth/synth.h"

namespace hrere::synth {

// Typed entities with ids in one space, laid out type after type.
constexpr std::uint32_t kNone = std::numeric_limits<std::uint32_t>::max();

enum Type : std::uint8_t { kCountry, kRegion, kCity, kUniversity, kCompany, kPerson, kNumTypes };

struct World {
  // Type t holds the ids [begin[t], begin[t + 1]).
  std::array<std::uint32_t, kNumTypes + 1> begin{};

  // Regions are contiguous per country and cities per region: the regions of country c are
  // [country_regions[c], country_regions[c + 1]) (local region indices), and so on.
  std::vector<std::uint32_t> country_regions;
  std::vector<std::uint32_t> region_cities;
  std::vector<std::uint32_t> region_country;  // local region -> country id
  std::vector<std::uint32_t> city_region;     // local city -> region id
  std::vector<std::uint32_t> capital;         // local country -> city id

  std::vector<std::uint32_t> university_city;  // city ids
  std::vector<std::uint32_t> company_city;
  std::vector<std::uint32_t> company_founder;  // person id or kNone

  // Per local person; kNone where the person has no such fact.
  std::vector<std::uint32_t> birth, lived, death, employer, university, parent;

  std::uint32_t count(Type t) const { return begin[t + 1] - begin[t]; }
  std::uint32_t id(Type t, std::uint64_t local) const {
    return begin[t] + static_cast<std::uint32_t>(local);
  }
  std::uint32_t local(Type t, std::uint32_t id) const { return id - begin[t]; }
  bool is(Type t, std::uint32_t id) const { return id >= begin[t] && id < begin[t + 1]; }
  Type type_of(std::uint32_t id) const {
    int t = 0;
    while (!is(static_cast<Type>(t), id)) ++t;
    return static_cast<Type>(t);
  }
  std::uint32_t entities() const { return begin[kNumTypes]; }

  std::uint32_t region_of(std::uint32_t city) const { return city_region[local(kCity, city)]; }
  std::uint32_t country_of_region(std::uint32_t region) const {
    return region_country[local(kRegion, region)];
  }
  std::uint32_t country_of(std::uint32_t city) const { return country_of_region(region_of(city)); }
  std::uint32_t capital_of(std::uint32_t country) const {
    return capital[local(kCountry, country)];
  }
  std::uint32_t first_city(std::uint32_t region) const {
    return id(kCity, region_cities[local(kRegion, region)]);
  }
  // A uniformly drawn city of `country`.
  std::uint32_t city_in(std::uint32_t country, Rng& rng) const {
    const std::uint32_t c = local(kCountry, country);
    const std::uint32_t first = region_cities[country_regions[c]];
    const std::uint32_t last = region_cities[country_regions[c + 1]];
    return id(kCity, rng.between(first, last - 1));
  }
};

// The entities and their facts, drawn from the options' seed.
World build_world(const SynthOptions& options);

// Calls f(head, relation, tail) for every fact of the world, in a fixed order.
template <typename F>
void for_each_fact(const World& w, F&& f) {
  for (std::uint32_t r = w.begin[kRegion]; r < w.begin[kRegion + 1]; ++r) {
    f(w.country_of_region(r), kAdminDivisions, r);
    f(r, kAdminDivisionOf, w.country_of_region(r));
  }
  for (std::uint32_t x = w.begin[kCity]; x < w.begin[kCity + 1]; ++x) {
    f(w.region_of(x), kContains, x);
    f(w.country_of(x), kContains, x);
  }
  for (std::uint32_t c = w.begin[kCountry]; c < w.begin[kCountry + 1]; ++c) {
    f(c, kCapital, w.capital_of(c));
  }
  for (std::uint32_t u = w.begin[kUniversity]; u < w.begin[kUniversity + 1]; ++u) {
    f(w.university_city[w.local(kUniversity, u)], kContains, u);
  }
  for (std::uint32_t c = w.begin[kCompany]; c < w.begin[kCompany + 1]; ++c) {
    const std::uint32_t i = w.local(kCompany, c);
    f(c, kPlaceFounded, w.company_city[i]);
    if (w.company_founder[i] != kNone) f(c, kFounders, w.company_founder[i]);
  }
  for (std::uint32_t p = w.begin[kPerson]; p < w.begin[kPerson + 1]; ++p) {
    const std::uint32_t i = w.local(kPerson, p);
    f(p, kPlaceOfBirth, w.birth[i]);
    f(p, kNationality, w.country_of(w.birth[i]));
    if (w.lived[i] != kNone) f(p, kPlaceLived, w.lived[i]);
    if (w.death[i] != kNone) f(p, kPlaceOfDeath, w.death[i]);
    if (w.employer[i] != kNone) f(p, kPersonCompany, w.employer[i]);
    if (w.university[i] != kNone) f(p, kEducation, w.university[i]);
    if (w.parent[i] != kNone) f(w.parent[i], kChildren, p);
  }
}

struct Pair {
  std::uint32_t head;
  std::uint32_t tail;
  Rel relation;
  bool uninformative;  // a test pair whose sentences never state its relation
};

// One key for both directions of a pair.
inline std::uint64_t pair_key(std::uint32_t a, std::uint32_t b) {
  return (static_cast<std::uint64_t>(std::min(a, b)) << 32) | std::max(a, b);
}

struct Selection {
  std::vector<Pair> train;
  std::vector<Pair> test;
  std::unordered_set<std::uint64_t> re_pairs;    // every RE pair, either direction
  std::unordered_set<std::uint64_t> body_pairs;  // facts that must stay in kb/train.txt
};

// The train and test pairs, drawn from the world's facts (and, for NA, its non-facts).
Selection select_pairs(const World& w, const SynthOptions& options);

// Mids look like Freebase's: "0s" then at least four base-31 digits (Freebase's alphabet
// without '_'), written m.0s0001 in the text files and /m/0s0001 in the KB.
void append_mid(std::string& out, std::string_view prefix, std::uint32_t id);

}  // namespace hrere::synth
