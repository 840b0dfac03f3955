#include "data_pipeline/synth.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "core/atomic_output.h"
#include "core/random.h"

namespace hrere::data {
namespace {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------
// Randomness. xoshiro256** seeded through splitmix64, with integer-only distributions, so
// the output bytes do not depend on the standard library or the floating-point unit. Draws
// are never two operands of one expression (f(rng.a(), rng.b()), x + rng.c()): C++ leaves
// their order unspecified and compilers differ.

class Rng {
 public:
  explicit Rng(std::uint64_t seed) {
    for (std::uint64_t& word : state_) {
      seed += core::kGoldenGamma;
      word = core::mix64(seed);
    }
  }

  std::uint64_t next() {
    const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const std::uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  std::uint64_t operator()() { return next(); }

  // Uniform in [0, n), n > 0; rejection keeps it unbiased.
  std::uint64_t below(std::uint64_t n) { return core::draw_below(*this, n); }

  // Uniform in [lo, hi].
  std::uint64_t between(std::uint64_t lo, std::uint64_t hi) { return lo + below(hi - lo + 1); }

  // True with probability p. p * 2^53 is exact, so the threshold is the same everywhere.
  bool chance(double p) {
    const auto threshold = static_cast<std::uint64_t>(p * 9007199254740992.0);
    return (next() >> 11) < threshold;
  }

  // In [0, n), skewed toward small values (density ~ 1/sqrt): a few big cities, many small.
  std::uint64_t skewed(std::uint64_t n) {
    const std::uint64_t u = next() >> 32;
    const std::uint64_t square = (u * u) >> 32;
    return (square * n) >> 32;
  }

  template <typename Container>
  const auto& pick(const Container& items) {
    return items[below(items.size())];
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::array<std::uint64_t, 4> state_{};
};

// Independent streams per purpose and index, so one part of the output does not shift when
// another part draws more or fewer numbers.
enum class Stream : std::uint64_t {
  kWorld = 1,
  kSelect,
  kVocabulary,
  kFirstNames,
  kNames,
  kTrainSentences,
  kTestSentences,
  kKbSplit,
  kVectors,
};

Rng stream(std::uint64_t seed, Stream purpose, std::uint64_t index = 0) {
  return Rng(core::mix64(core::mix64(core::mix64(seed) ^ static_cast<std::uint64_t>(purpose)) ^ index));
}

// Rounds fraction * n to the nearest count (the product is one IEEE operation).
std::size_t share(double fraction, std::size_t n) {
  return static_cast<std::size_t>(std::llround(fraction * static_cast<double>(n)));
}

// ---------------------------------------------------------------------------------------
// Relations and templates.

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

// Relative frequency of each relation among the related RE pairs (NYT10-like skew).
constexpr std::array<int, kNumRelations> kRelationWeight = {0, 8, 2, 2, 2, 4, 2,
                                                            3, 1, 1, 3, 1, 1, 1};

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

const std::string& relation_name(Rel rel) {
  static const std::string kNaName = "NA";
  return rel == kNA ? kNaName : synth_relations()[rel - 1].name;
}

// A template split into pieces: literal words and slots.
struct Piece {
  enum Kind { kWord, kHead, kTail, kFiller } kind;
  std::string word;
};
using Template = std::vector<Piece>;

std::vector<std::string> split_spaces(std::string_view text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t stop = text.find(' ', start);
    if (stop == std::string_view::npos) stop = text.size();
    if (stop > start) out.emplace_back(text.substr(start, stop - start));
    start = stop + 1;
  }
  return out;
}

Template parse_template(const std::string& text) {
  Template out;
  for (std::string& token : split_spaces(text)) {
    if (token == "{H}") {
      out.push_back({Piece::kHead, {}});
    } else if (token == "{T}") {
      out.push_back({Piece::kTail, {}});
    } else if (token == "{F}") {
      out.push_back({Piece::kFiller, {}});
    } else {
      out.push_back({Piece::kWord, std::move(token)});
    }
  }
  return out;
}

std::vector<Template> parse_templates(const std::vector<std::string>& texts) {
  std::vector<Template> out;
  for (const std::string& text : texts) out.push_back(parse_template(text));
  return out;
}

// Parsed templates: index 0 holds the mention-only templates, index r those of relation r.
const std::vector<std::vector<Template>>& parsed_templates() {
  static const std::vector<std::vector<Template>> parsed = [] {
    std::vector<std::vector<Template>> out{parse_templates(synth_mention_templates())};
    for (const SynthRelation& relation : synth_relations()) {
      out.push_back(parse_templates(relation.templates));
    }
    return out;
  }();
  return parsed;
}

// Literal words of all templates: no filler word or entity name may equal one, which is what
// keeps a stating phrase from arising by chance.
const std::unordered_set<std::string>& template_words() {
  static const std::unordered_set<std::string> words = [] {
    std::unordered_set<std::string> out;
    for (const auto& templates : parsed_templates()) {
      for (const Template& t : templates) {
        for (const Piece& piece : t) {
          if (piece.kind == Piece::kWord) out.insert(piece.word);
        }
      }
    }
    return out;
  }();
  return words;
}

// ---------------------------------------------------------------------------------------
// The world: typed entities with ids in one space, laid out type after type.

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

// Splits `items` contiguously over `groups` (each gets at least one when items >= groups):
// the result has groups + 1 boundaries.
std::vector<std::uint32_t> balanced_bounds(std::uint32_t items, std::uint32_t groups) {
  std::vector<std::uint32_t> bounds(groups + 1);
  for (std::uint64_t g = 0; g <= groups; ++g) {
    bounds[g] = static_cast<std::uint32_t>(g * items / groups);
  }
  return bounds;
}

World build_world(const SynthOptions& options) {
  const auto n = static_cast<std::uint32_t>(options.num_entities);
  std::array<std::uint32_t, kNumTypes> counts{};
  counts[kCountry] = std::clamp<std::uint32_t>(n / 200, 3, 250);
  counts[kRegion] = std::max(2 * counts[kCountry], n / 50);
  counts[kCity] = std::max(2 * counts[kRegion], n / 10);
  counts[kUniversity] = n / 25;
  counts[kCompany] = n / 10;
  std::uint32_t others = 0;
  for (int t = 0; t < kPerson; ++t) others += counts[t];
  counts[kPerson] = n - others;  // validation guarantees n is large enough for this

  World w;
  for (int t = 0; t < kNumTypes; ++t) w.begin[t + 1] = w.begin[t] + counts[t];
  Rng rng = stream(options.seed, Stream::kWorld);

  w.country_regions = balanced_bounds(counts[kRegion], counts[kCountry]);
  w.region_cities = balanced_bounds(counts[kCity], counts[kRegion]);
  w.region_country.resize(counts[kRegion]);
  for (std::uint32_t c = 0; c < counts[kCountry]; ++c) {
    for (std::uint32_t r = w.country_regions[c]; r < w.country_regions[c + 1]; ++r) {
      w.region_country[r] = w.id(kCountry, c);
    }
  }
  w.city_region.resize(counts[kCity]);
  for (std::uint32_t r = 0; r < counts[kRegion]; ++r) {
    for (std::uint32_t x = w.region_cities[r]; x < w.region_cities[r + 1]; ++x) {
      w.city_region[x] = w.id(kRegion, r);
    }
  }
  for (std::uint32_t c = 0; c < counts[kCountry]; ++c) {
    w.capital.push_back(w.city_in(w.id(kCountry, c), rng));
  }

  auto any_city = [&] { return w.id(kCity, rng.skewed(counts[kCity])); };
  auto any_person = [&] { return w.id(kPerson, rng.below(counts[kPerson])); };
  for (std::uint32_t u = 0; u < counts[kUniversity]; ++u) w.university_city.push_back(any_city());
  for (std::uint32_t c = 0; c < counts[kCompany]; ++c) {
    w.company_city.push_back(any_city());
    w.company_founder.push_back(rng.chance(0.6) ? any_person() : kNone);
  }

  for (std::uint32_t p = 0; p < counts[kPerson]; ++p) {
    const std::uint32_t birth = any_city();
    w.birth.push_back(birth);
    std::uint32_t lived = kNone;
    if (rng.chance(0.6)) {
      // Half of the moves stay in the birth country, so residence hints at nationality.
      lived = rng.chance(0.5) ? w.city_in(w.country_of(birth), rng) : any_city();
      if (lived == birth) lived = kNone;
    }
    w.lived.push_back(lived);
    std::uint32_t death = rng.chance(0.15) ? any_city() : kNone;
    if (death == birth || death == lived) death = kNone;
    w.death.push_back(death);
    w.employer.push_back(rng.chance(0.5) ? w.id(kCompany, rng.below(counts[kCompany])) : kNone);
    w.university.push_back(rng.chance(0.35) ? w.id(kUniversity, rng.below(counts[kUniversity]))
                                            : kNone);
    w.parent.push_back(p > 0 && rng.chance(0.3) ? w.id(kPerson, rng.below(p)) : kNone);
  }
  return w;
}

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

// True when the world has any fact with this head and tail (in this direction).
bool has_fact(const World& w, std::uint32_t h, std::uint32_t t) {
  switch (w.type_of(h)) {
    case kCountry:
      return (w.is(kRegion, t) && w.country_of_region(t) == h) ||
             (w.is(kCity, t) && w.country_of(t) == h);
    case kRegion:
      return (w.is(kCountry, t) && w.country_of_region(h) == t) ||
             (w.is(kCity, t) && w.region_of(t) == h);
    case kCity:
      return w.is(kUniversity, t) && w.university_city[w.local(kUniversity, t)] == h;
    case kUniversity:
      return false;
    case kCompany: {
      const std::uint32_t i = w.local(kCompany, h);
      return w.company_city[i] == t || w.company_founder[i] == t;
    }
    case kPerson: {
      const std::uint32_t i = w.local(kPerson, h);
      if (w.is(kCountry, t)) return w.country_of(w.birth[i]) == t;
      if (w.is(kPerson, t)) return w.parent[w.local(kPerson, t)] == h;
      return t == w.birth[i] || t == w.lived[i] || t == w.death[i] || t == w.employer[i] ||
             t == w.university[i];
    }
    default:
      return false;
  }
}

// ---------------------------------------------------------------------------------------
// Choosing the RE pairs.

struct Pair {
  std::uint32_t head;
  std::uint32_t tail;
  Rel relation;
  bool uninformative;  // a test pair whose sentences never state its relation
};

std::uint64_t pair_key(std::uint32_t a, std::uint32_t b) {
  return (static_cast<std::uint64_t>(std::min(a, b)) << 32) | std::max(a, b);
}

// A fact of `relation` drawn at random, or nullopt when the draw hit an entity without one.
std::optional<Pair> sample_fact(const World& w, Rel relation, Rng& rng) {
  auto random = [&](Type t) { return w.id(t, rng.below(w.count(t))); };
  auto person_fact = [&](const std::vector<std::uint32_t>& column) -> std::optional<Pair> {
    const std::uint32_t p = random(kPerson);
    const std::uint32_t t = column[w.local(kPerson, p)];
    if (t == kNone) return std::nullopt;
    return Pair{p, t, relation, false};
  };
  switch (relation) {
    case kContains: {
      // One index space over the three kinds of containment, weighted by their sizes.
      const std::uint64_t cities = w.count(kCity);
      const std::uint64_t i = rng.below(2 * cities + w.count(kUniversity));
      if (i >= 2 * cities) {
        const std::uint32_t u = w.id(kUniversity, i - 2 * cities);
        return Pair{w.university_city[w.local(kUniversity, u)], u, relation, false};
      }
      const std::uint32_t x = w.id(kCity, i % cities);
      if (i < cities) return Pair{w.region_of(x), x, relation, false};
      if (w.capital_of(w.country_of(x)) == x) return std::nullopt;  // labelled capital
      return Pair{w.country_of(x), x, relation, false};
    }
    case kAdminDivisions: {
      const std::uint32_t r = random(kRegion);
      return Pair{w.country_of_region(r), r, relation, false};
    }
    case kAdminDivisionOf: {
      const std::uint32_t r = random(kRegion);
      return Pair{r, w.country_of_region(r), relation, false};
    }
    case kCapital: {
      const std::uint32_t c = random(kCountry);
      return Pair{c, w.capital_of(c), relation, false};
    }
    case kNationality: {
      const std::uint32_t p = random(kPerson);
      return Pair{p, w.country_of(w.birth[w.local(kPerson, p)]), relation, false};
    }
    case kPlaceOfBirth:
      return person_fact(w.birth);
    case kPlaceLived:
      return person_fact(w.lived);
    case kPlaceOfDeath:
      return person_fact(w.death);
    case kPersonCompany:
      return person_fact(w.employer);
    case kEducation:
      return person_fact(w.university);
    case kChildren: {
      const std::uint32_t child = random(kPerson);
      const std::uint32_t parent = w.parent[w.local(kPerson, child)];
      if (parent == kNone) return std::nullopt;
      return Pair{parent, child, relation, false};
    }
    case kFounders: {
      const std::uint32_t c = random(kCompany);
      const std::uint32_t founder = w.company_founder[w.local(kCompany, c)];
      if (founder == kNone) return std::nullopt;
      return Pair{c, founder, relation, false};
    }
    case kPlaceFounded: {
      const std::uint32_t c = random(kCompany);
      return Pair{c, w.company_city[w.local(kCompany, c)], relation, false};
    }
    default:
      throw std::logic_error("synth: no sampler for relation " + relation_name(relation));
  }
}

// A related pair whose relation follows from two other facts (its "body") by a composition
// rule of the world:
//   nationality(p, c)         <- place_of_birth(p, x) & contains(c, x)
//   contains(c, x)            <- administrative_divisions(c, r) & contains(r, x)
//   administrative_division/country(r, c) <- contains(r, x) & contains(c, x)
struct ImpliedPair {
  Pair pair;
  std::array<std::uint64_t, 2> body;  // pair keys of the two body facts
};

std::optional<ImpliedPair> sample_implied(const World& w, Rng& rng) {
  switch (rng.below(4)) {  // nationality, the paper's example, gets half of the draws
    case 0:
    case 1: {
      const std::uint32_t p = w.id(kPerson, rng.below(w.count(kPerson)));
      const std::uint32_t x = w.birth[w.local(kPerson, p)];
      const std::uint32_t c = w.country_of(x);
      return ImpliedPair{{p, c, kNationality, true}, {pair_key(p, x), pair_key(c, x)}};
    }
    case 2: {
      const std::uint32_t x = w.id(kCity, rng.below(w.count(kCity)));
      const std::uint32_t r = w.region_of(x);
      const std::uint32_t c = w.country_of_region(r);
      if (w.capital_of(c) == x) return std::nullopt;  // its label would be capital
      return ImpliedPair{{c, x, kContains, true}, {pair_key(c, r), pair_key(r, x)}};
    }
    default: {
      const std::uint32_t r = w.id(kRegion, rng.below(w.count(kRegion)));
      const std::uint32_t x = w.first_city(r);
      const std::uint32_t c = w.country_of_region(r);
      return ImpliedPair{{r, c, kAdminDivisionOf, true}, {pair_key(r, x), pair_key(c, x)}};
    }
  }
}

struct Selection {
  std::vector<Pair> train;
  std::vector<Pair> test;
  std::unordered_set<std::uint64_t> re_pairs;    // every RE pair, either direction
  std::unordered_set<std::uint64_t> body_pairs;  // facts that must stay in kb/train.txt
};

// Draws `wanted` pairs with `draw` (which returns nullopt for a failed draw), keeping those
// accepted by `accept`. Throws when the world runs out of suitable pairs.
template <typename Draw, typename Accept>
void draw_pairs(std::size_t wanted, const char* what, const SynthOptions& options, Draw&& draw,
                Accept&& accept) {
  const std::size_t max_attempts = 100 * wanted + 10000;
  std::size_t accepted = 0;
  for (std::size_t attempt = 0; accepted < wanted; ++attempt) {
    if (attempt == max_attempts) {
      throw std::runtime_error("synth: a world of " + std::to_string(options.num_entities) +
                               " entities yielded only " + std::to_string(accepted) + " of " +
                               std::to_string(wanted) + " " + what +
                               "; raise num_entities or request fewer pairs");
    }
    if (auto candidate = draw(); candidate && accept(*candidate)) ++accepted;
  }
}

Selection select_pairs(const World& w, const SynthOptions& options) {
  Selection s;
  Rng rng = stream(options.seed, Stream::kSelect);
  auto is_free = [&](std::uint32_t a, std::uint32_t b) {
    const std::uint64_t key = pair_key(a, b);
    return a != b && !s.re_pairs.count(key) && !s.body_pairs.count(key);
  };

  const std::size_t test_na = share(options.na_fraction, options.test_pairs);
  const std::size_t train_na = share(options.na_fraction, options.train_pairs);
  const std::size_t test_related = options.test_pairs - test_na;
  const std::size_t train_related = options.train_pairs - train_na;

  // Implied pairs first, so later pairs cannot take their body facts out of the KB.
  draw_pairs(
      share(options.uninformative_test_fraction, test_related), "uninformative test pairs", options,
      [&] { return sample_implied(w, rng); },
      [&](const ImpliedPair& c) {
        if (!is_free(c.pair.head, c.pair.tail)) return false;
        for (std::uint64_t body : c.body) {
          if (s.re_pairs.count(body)) return false;
        }
        s.re_pairs.insert(pair_key(c.pair.head, c.pair.tail));
        s.body_pairs.insert(c.body.begin(), c.body.end());
        s.test.push_back(c.pair);
        return true;
      });

  std::vector<std::uint64_t> weight_bounds;  // cumulative relation weights
  std::uint64_t total_weight = 0;
  for (int rel = 1; rel < kNumRelations; ++rel) {
    total_weight += kRelationWeight[rel];
    weight_bounds.push_back(total_weight);
  }
  auto draw_related = [&] {
    const std::uint64_t u = rng.below(total_weight);
    const auto rel =
        static_cast<Rel>(1 + (std::upper_bound(weight_bounds.begin(), weight_bounds.end(), u) -
                              weight_bounds.begin()));
    return sample_fact(w, rel, rng);
  };
  auto keep_into = [&](std::vector<Pair>& split) {
    return [&s, &is_free, target = &split](const Pair& p) {
      if (!is_free(p.head, p.tail)) return false;
      s.re_pairs.insert(pair_key(p.head, p.tail));
      target->push_back(p);
      return true;
    };
  };
  draw_pairs(test_related - s.test.size(), "related test pairs", options, draw_related,
             keep_into(s.test));
  draw_pairs(train_related, "related train pairs", options, draw_related, keep_into(s.train));

  // NA pairs: entities of types that could be related, that co-occur without a fact.
  static constexpr std::array<std::pair<Type, Type>, 9> kNaTypes = {{{kPerson, kCity},
                                                                     {kPerson, kCountry},
                                                                     {kPerson, kCompany},
                                                                     {kPerson, kPerson},
                                                                     {kPerson, kUniversity},
                                                                     {kCountry, kCity},
                                                                     {kRegion, kCity},
                                                                     {kCompany, kCity},
                                                                     {kCity, kCity}}};
  auto draw_na = [&]() -> std::optional<Pair> {
    const auto& [head_type, tail_type] = rng.pick(kNaTypes);
    const std::uint32_t h = w.id(head_type, rng.below(w.count(head_type)));
    const std::uint32_t t = w.id(tail_type, rng.below(w.count(tail_type)));
    if (h == t || has_fact(w, h, t) || has_fact(w, t, h)) return std::nullopt;
    return Pair{h, t, kNA, false};
  };
  draw_pairs(test_na, "NA test pairs", options, draw_na, keep_into(s.test));
  draw_pairs(train_na, "NA train pairs", options, draw_na, keep_into(s.train));

  // Interleave relations and NA as in the real files (pairs stay contiguous).
  for (std::vector<Pair>* split : {&s.test, &s.train}) {
    for (std::size_t i = split->size(); i > 1; --i) {
      std::swap((*split)[i - 1], (*split)[rng.below(i)]);
    }
  }
  return s;
}

// ---------------------------------------------------------------------------------------
// Words: filler vocabulary and entity names, all built from pseudo-word syllables.

constexpr std::array<std::string_view, 22> kOnsets = {"b",  "d",  "f",  "g",  "k",  "l", "m",  "n",
                                                      "p",  "r",  "s",  "t",  "v",  "z", "br", "dr",
                                                      "gr", "kr", "st", "tr", "ch", "sh"};
constexpr std::array<std::string_view, 8> kVowels = {"a", "e", "i", "o", "u", "ai", "ei", "ou"};
constexpr std::array<std::string_view, 7> kCodas = {"", "", "", "n", "r", "l", "s"};

std::string pseudo_word(Rng& rng, int min_syllables, int max_syllables) {
  std::string word;
  const auto syllables = rng.between(min_syllables, max_syllables);
  for (std::uint64_t i = 0; i < syllables; ++i) {
    word += rng.pick(kOnsets);
    word += rng.pick(kVowels);
    word += rng.pick(kCodas);
  }
  return word;
}

// Frequent English words first, then pseudo-words; sampled with Zipf-like frequencies.
class Vocabulary {
 public:
  explicit Vocabulary(const SynthOptions& options) {
    // Template words ("the", "of", "in", ...) are not here: fillers must never equal one.
    static constexpr std::array<std::string_view, 40> kCommon = {
        "that",  "on",   "with",  "as",    "it",     "but",    "he",    "she",   "they",  "her",
        "their", "when", "while", "after", "before", "also",   "more",  "than",  "would", "could",
        "will",  "one",  "two",   "new",   "time",   "people", "about", "over",  "into",  "some",
        "many",  "this", "has",   "had",   "not",    "been",   "were",  "there", "all",   "says"};
    auto add = [&](std::string word) {
      if (template_words().count(word) || !known_.insert(word).second) return;
      words_.push_back(std::move(word));
    };
    for (std::string_view word : kCommon) {
      if (words_.size() < options.vocab_size) add(std::string(word));
    }
    static constexpr std::array<std::string_view, 7> kSuffixes = {"",    "",   "s", "ed",
                                                                  "ing", "er", "ly"};
    Rng rng = stream(options.seed, Stream::kVocabulary);
    while (words_.size() < options.vocab_size) {
      std::string word = pseudo_word(rng, 1, 3);  // before the suffix: one draw per statement
      word += rng.pick(kSuffixes);
      add(std::move(word));
    }
    // Weight of rank k is 2^32 / (k + 1): integer Zipf.
    std::uint64_t total = 0;
    for (std::uint64_t k = 0; k < words_.size(); ++k) {
      total += (std::uint64_t{1} << 32) / (k + 1);
      cumulative_.push_back(total);
    }
  }

  const std::string& sample(Rng& rng) const {
    const std::uint64_t u = rng.below(cumulative_.back());
    return words_[std::upper_bound(cumulative_.begin(), cumulative_.end(), u) -
                  cumulative_.begin()];
  }
  bool contains(const std::string& word) const { return known_.count(word) > 0; }
  const std::vector<std::string>& words() const { return words_; }

 private:
  std::vector<std::string> words_;
  std::unordered_set<std::string> known_;
  std::vector<std::uint64_t> cumulative_;
};

// Names for the entities that appear in text, unique, joined by '_' like NYT10, and never
// equal to (or containing a part equal to) a filler or template word.
class Names {
 public:
  Names(const World& w, const Selection& selection, const Vocabulary& vocabulary,
        const SynthOptions& options) {
    for (const auto* split : {&selection.train, &selection.test}) {
      for (const Pair& p : *split) {
        ids_.push_back(p.head);
        ids_.push_back(p.tail);
      }
    }
    std::sort(ids_.begin(), ids_.end());
    ids_.erase(std::unique(ids_.begin(), ids_.end()), ids_.end());

    Rng first_rng = stream(options.seed, Stream::kFirstNames);
    std::vector<std::string> first_names;
    for (int i = 0; i < 400; ++i) first_names.push_back(pseudo_word(first_rng, 1, 2));

    std::unordered_set<std::string> used;
    auto acceptable = [&](const std::string& name) {
      if (used.count(name) || vocabulary.contains(name)) return false;
      for (const std::string& part : split_parts(name)) {
        if (template_words().count(part)) return false;
      }
      return true;
    };
    for (std::uint32_t id : ids_) {
      Rng rng = stream(options.seed, Stream::kNames, id);
      std::string name = propose(w.type_of(id), first_names, rng);
      for (int attempt = 1; !acceptable(name); ++attempt) {
        if (attempt == 10000) {
          throw std::logic_error("synth: cannot find a unique name for entity " +
                                 std::to_string(id));
        }
        name = propose(w.type_of(id), first_names, rng);
      }
      used.insert(name);
      names_.emplace(id, std::move(name));
    }
  }

  const std::string& of(std::uint32_t id) const { return names_.at(id); }
  // The named entities in id order (the distractor pool).
  const std::vector<std::uint32_t>& ids() const { return ids_; }

  static std::vector<std::string> split_parts(const std::string& name) {
    std::vector<std::string> parts;
    std::size_t start = 0;
    for (std::size_t stop; (stop = name.find('_', start)) != std::string::npos; start = stop + 1) {
      parts.push_back(name.substr(start, stop - start));
    }
    parts.push_back(name.substr(start));
    return parts;
  }

 private:
  static std::string propose(Type type, const std::vector<std::string>& first_names, Rng& rng) {
    static constexpr std::array<std::string_view, 8> kCityPrefixes = {
        "port", "san", "lake", "fort", "saint", "east", "west", "new"};
    static constexpr std::array<std::string_view, 6> kCountrySuffixes = {"ia",  "land", "stan",
                                                                         "ora", "ica",  "ria"};
    static constexpr std::array<std::string_view, 5> kRegionSuffixes = {
        "valley", "highlands", "coast", "plains", "heights"};
    static constexpr std::array<std::string_view, 3> kUniversitySuffixes = {"university", "college",
                                                                            "institute"};
    static constexpr std::array<std::string_view, 7> kCompanySuffixes = {
        "inc", "corporation", "group", "systems", "holdings", "media", "partners"};
    // One draw per statement: the order in which operands are evaluated is unspecified, and
    // the names must not depend on the compiler.
    auto suffixed = [&rng](std::string stem, const auto& suffixes) {
      stem += '_';
      stem += rng.pick(suffixes);
      return stem;
    };
    switch (type) {
      case kCountry: {
        std::string name = pseudo_word(rng, 1, 2);
        name += rng.pick(kCountrySuffixes);
        return name;
      }
      case kRegion:
        return suffixed(pseudo_word(rng, 2, 3), kRegionSuffixes);
      case kCity: {
        if (!rng.chance(0.25)) return pseudo_word(rng, 2, 3);
        std::string name(rng.pick(kCityPrefixes));
        name += '_';
        name += pseudo_word(rng, 2, 3);
        return name;
      }
      case kUniversity:
        return suffixed(pseudo_word(rng, 2, 3), kUniversitySuffixes);
      case kCompany: {
        std::string stem = pseudo_word(rng, 2, 3);
        return rng.chance(0.3) ? stem : suffixed(std::move(stem), kCompanySuffixes);
      }
      default: {
        std::string name = rng.pick(first_names);
        name += '_';
        name += pseudo_word(rng, 2, 3);
        return name;
      }
    }
  }

  std::vector<std::uint32_t> ids_;
  std::unordered_map<std::uint32_t, std::string> names_;
};

// ---------------------------------------------------------------------------------------
// Output files.

// Mids look like Freebase's: "0s" then at least four base-31 digits (Freebase's alphabet
// without '_'), written m.0s0001 in the text files and /m/0s0001 in the KB.
void append_mid(std::string& out, std::string_view prefix, std::uint32_t id) {
  static constexpr std::string_view kDigits = "0123456789bcdfghjklmnpqrstvwxyz";
  char digits[16];
  int n = 0;
  for (std::uint32_t v = id; v > 0 || n < 4; v /= kDigits.size()) {
    digits[n++] = kDigits[v % kDigits.size()];
  }
  out += prefix;
  out += "0s";
  while (n > 0) out += digits[--n];
}

enum class LineStyle {
  kLfBetween,  // NYT10 text files: "\n" between lines, none after the last
  kCrlfAfter,  // FB15k-237 KB files: "\r\n" after every line
  kLfAfter,    // our own files
};

// A buffered line writer into an AtomicOutput: the file appears under its final name only on
// commit(), so a failed run never leaves a half-written file there.
class LineFile {
 public:
  LineFile(const fs::path& path, LineStyle style) : output_(path.string()), style_(style) {
    out_.open(output_.temp_path(), std::ios::binary | std::ios::trunc);
    if (!out_) {
      throw std::runtime_error("synth: cannot create " + output_.temp_path() + ": " +
                               std::strerror(errno));
    }
    buffer_.reserve(kChunk + 4096);
  }

  // Returns the buffer to append one line's text to; end_line() finishes it.
  std::string& begin_line() {
    if (style_ == LineStyle::kLfBetween && lines_ > 0) buffer_ += '\n';
    ++lines_;
    return buffer_;
  }
  void end_line() {
    if (style_ == LineStyle::kCrlfAfter) buffer_ += "\r\n";
    if (style_ == LineStyle::kLfAfter) buffer_ += '\n';
    if (buffer_.size() >= kChunk) flush();
  }
  void write_line(std::string_view text) {
    begin_line() += text;
    end_line();
  }

  std::size_t lines() const { return lines_; }
  std::size_t bytes() const { return bytes_; }

  void commit() {
    flush();
    out_.close();
    if (!out_) throw std::runtime_error("synth: cannot finish writing " + output_.temp_path());
    output_.commit();
  }

 private:
  static constexpr std::size_t kChunk = 1 << 20;

  void flush() {
    out_.write(buffer_.data(), static_cast<std::streamsize>(buffer_.size()));
    if (!out_) throw std::runtime_error("synth: write failed on " + output_.temp_path());
    bytes_ += buffer_.size();
    buffer_.clear();
  }

  core::AtomicOutput output_;  // declared before out_, so the stream closes before cleanup
  std::ofstream out_;
  LineStyle style_;
  std::string buffer_;
  std::size_t lines_ = 0;
  std::size_t bytes_ = 0;
};

class SentenceWriter {
 public:
  SentenceWriter(const Names& names, const Vocabulary& vocabulary, const SynthOptions& options)
      : names_(names), vocabulary_(vocabulary), options_(options) {}

  // Writes every pair's sentences; the test file puts ###END### in a field of its own.
  void write(const std::vector<Pair>& pairs, bool test, LineFile& file, SynthReport& report) {
    const Stream purpose = test ? Stream::kTestSentences : Stream::kTrainSentences;
    std::string prefix;
    std::string sentence;
    for (std::size_t i = 0; i < pairs.size(); ++i) {
      const Pair& pair = pairs[i];
      Rng rng = stream(options_.seed, purpose, i);
      prefix.clear();
      append_mid(prefix, "m.", pair.head);
      prefix += '\t';
      append_mid(prefix, "m.", pair.tail);
      prefix += '\t';
      prefix += names_.of(pair.head);
      prefix += '\t';
      prefix += names_.of(pair.tail);
      prefix += '\t';
      prefix += relation_name(pair.relation);
      prefix += '\t';
      const auto count =
          rng.between(options_.min_sentences_per_pair, options_.max_sentences_per_pair);
      for (std::uint64_t k = 0; k < count; ++k) {
        const bool states =
            pair.relation != kNA && !pair.uninformative && !rng.chance(options_.noise_rate);
        render(pair, states, rng, sentence);
        std::string& line = file.begin_line();
        line += prefix;
        line += sentence;
        line += test ? "\t###END###" : " ###END###";
        file.end_line();
        count_sentence(pair, states, report);
      }
    }
  }

 private:
  static void count_sentence(const Pair& pair, bool states, SynthReport& report) {
    if (pair.relation == kNA) {
      ++report.na_sentences;
    } else if (pair.uninformative) {
      ++report.uninformative_sentences;
    } else if (states) {
      ++report.stating_sentences;
    } else {
      ++report.noise_sentences;
    }
  }

  void render(const Pair& pair, bool states, Rng& rng, std::string& out) const {
    const auto& templates = parsed_templates()[states ? pair.relation : 0];
    const Template& chosen = rng.pick(templates);
    out.clear();
    auto put = [&out](std::string_view word) {
      if (!out.empty()) out += ' ';
      out += word;
    };
    for (const Piece& piece : chosen) {
      switch (piece.kind) {
        case Piece::kWord:
          put(piece.word);
          break;
        case Piece::kHead:
          put(names_.of(pair.head));
          break;
        case Piece::kTail:
          put(names_.of(pair.tail));
          break;
        case Piece::kFiller: {
          const auto length = rng.below(options_.max_filler_run + 1);
          for (std::uint64_t k = 0; k < length; ++k) put(filler(pair, rng));
        }
      }
    }
  }

  // A filler word, or now and then another entity's name (a distractor mention).
  const std::string& filler(const Pair& pair, Rng& rng) const {
    const std::vector<std::uint32_t>& pool = names_.ids();
    if (pool.size() > 2 && rng.chance(options_.distractor_rate)) {
      std::uint32_t other;
      do {
        other = rng.pick(pool);
      } while (other == pair.head || other == pair.tail);
      return names_.of(other);
    }
    return vocabulary_.sample(rng);
  }

  const Names& names_;
  const Vocabulary& vocabulary_;
  const SynthOptions& options_;
};

void write_relation2id(const fs::path& dir, SynthReport& report) {
  LineFile file(dir / "relation2id.txt", LineStyle::kLfBetween);
  file.write_line(std::to_string(kNumRelations));
  for (int rel = 0; rel < kNumRelations; ++rel) {
    file.write_line(relation_name(static_cast<Rel>(rel)) + " " + std::to_string(rel));
  }
  file.commit();
  report.bytes_written += file.bytes();
}

void write_uninformative(const fs::path& dir, const std::vector<Pair>& test, SynthReport& report) {
  LineFile file(dir / "test_uninformative_pairs.txt", LineStyle::kLfAfter);
  std::string line;
  for (const Pair& pair : test) {
    if (!pair.uninformative) continue;
    line.clear();
    append_mid(line, "m.", pair.head);
    line += '\t';
    append_mid(line, "m.", pair.tail);
    line += '\t';
    line += relation_name(pair.relation);
    file.write_line(line);
  }
  file.commit();
  report.uninformative_test_pairs = file.lines();
  report.bytes_written += file.bytes();
}

// Streams the world's facts into the three KB splits, leaving out every RE pair. A fact goes
// to valid or test only when both its entities already occur in train (as in FB15k-237) and
// it is not the body of an implied test pair.
void write_kb(const fs::path& dir, const World& world, const Selection& selection,
              const SynthOptions& options, SynthReport& report) {
  LineFile train(dir / "kb" / "train.txt", LineStyle::kCrlfAfter);
  LineFile valid(dir / "kb" / "valid.txt", LineStyle::kCrlfAfter);
  LineFile test(dir / "kb" / "test.txt", LineStyle::kCrlfAfter);
  std::vector<bool> in_train(world.entities(), false);
  Rng rng = stream(options.seed, Stream::kKbSplit);
  const auto valid_threshold =
      static_cast<std::uint64_t>(options.kb_valid_fraction * 9007199254740992.0);
  const auto test_threshold =
      valid_threshold + static_cast<std::uint64_t>(options.kb_test_fraction * 9007199254740992.0);

  for_each_fact(world, [&](std::uint32_t h, Rel relation, std::uint32_t t) {
    ++report.kb_facts;
    const std::uint64_t key = pair_key(h, t);
    if (selection.re_pairs.count(key)) {
      ++report.kb_removed_facts;
      return;
    }
    const std::uint64_t u = rng.next() >> 11;
    LineFile* target = &train;
    if (in_train[h] && in_train[t] && !selection.body_pairs.count(key)) {
      if (u < valid_threshold) {
        target = &valid;
      } else if (u < test_threshold) {
        target = &test;
      }
    }
    if (target == &train) {
      in_train[h] = true;
      in_train[t] = true;
    }
    std::string& line = target->begin_line();
    append_mid(line, "/m/", h);
    line += '\t';
    line += relation_name(relation);
    line += '\t';
    append_mid(line, "/m/", t);
    target->end_line();
  });
  for (LineFile* file : {&train, &valid, &test}) {
    file->commit();
    report.bytes_written += file->bytes();
  }
  report.kb_train = train.lines();
  report.kb_valid = valid.lines();
  report.kb_test = test.lines();
}

// Random vectors for every word the text can contain once names are split at '_', printed
// from integers so the bytes do not depend on floating-point formatting.
void write_vectors(const fs::path& dir, const Vocabulary& vocabulary, const Names& names,
                   const SynthOptions& options, SynthReport& report) {
  std::vector<std::string> words;
  std::unordered_set<std::string> seen;
  auto add = [&](const std::string& word) {
    if (seen.insert(word).second) words.push_back(word);
  };
  for (const std::string& word : vocabulary.words()) add(word);
  for (const auto& templates : parsed_templates()) {
    for (const Template& t : templates) {
      for (const Piece& piece : t) {
        if (piece.kind == Piece::kWord) add(piece.word);
      }
    }
  }
  for (std::uint32_t id : names.ids()) {
    for (const std::string& part : Names::split_parts(names.of(id))) add(part);
  }

  LineFile file(dir / "vectors.txt", LineStyle::kLfAfter);
  file.write_line(std::to_string(words.size()) + " " + std::to_string(options.vector_dim));
  char number[16];
  for (std::size_t i = 0; i < words.size(); ++i) {
    Rng rng = stream(options.seed, Stream::kVectors, i);
    std::string& line = file.begin_line();
    line += words[i];
    for (std::size_t d = 0; d < options.vector_dim; ++d) {
      const auto thousandths = static_cast<int>(rng.below(2001)) - 1000;  // [-1, 1]
      std::snprintf(number, sizeof number, " %s%d.%03d", thousandths < 0 ? "-" : "",
                    std::abs(thousandths) / 1000, std::abs(thousandths) % 1000);
      line += number;
    }
    file.end_line();
  }
  file.commit();
  report.vector_words = words.size();
  report.bytes_written += file.bytes();
}

void write_manifest(const fs::path& dir, const SynthOptions& o, const SynthReport& r) {
  nlohmann::ordered_json manifest;
  manifest["generator"] = "hrere synth";
  manifest["format_version"] = 1;
  manifest["options"] = {
      {"seed", o.seed},
      {"num_entities", o.num_entities},
      {"train_pairs", o.train_pairs},
      {"test_pairs", o.test_pairs},
      {"na_fraction", o.na_fraction},
      {"min_sentences_per_pair", o.min_sentences_per_pair},
      {"max_sentences_per_pair", o.max_sentences_per_pair},
      {"noise_rate", o.noise_rate},
      {"uninformative_test_fraction", o.uninformative_test_fraction},
      {"vocab_size", o.vocab_size},
      {"max_filler_run", o.max_filler_run},
      {"distractor_rate", o.distractor_rate},
      {"kb_valid_fraction", o.kb_valid_fraction},
      {"kb_test_fraction", o.kb_test_fraction},
      {"write_vectors", o.write_vectors},
      {"vector_dim", o.vector_dim},
  };
  manifest["counts"] = {
      {"entities", r.entities},
      {"named_entities", r.named_entities},
      {"relations", r.relations},
      {"train_pairs", r.train_pairs},
      {"test_pairs", r.test_pairs},
      {"train_na_pairs", r.train_na_pairs},
      {"test_na_pairs", r.test_na_pairs},
      {"uninformative_test_pairs", r.uninformative_test_pairs},
      {"train_sentences", r.train_sentences},
      {"test_sentences", r.test_sentences},
      {"stating_sentences", r.stating_sentences},
      {"noise_sentences", r.noise_sentences},
      {"uninformative_sentences", r.uninformative_sentences},
      {"na_sentences", r.na_sentences},
      {"kb_facts", r.kb_facts},
      {"kb_removed_facts", r.kb_removed_facts},
      {"kb_train", r.kb_train},
      {"kb_valid", r.kb_valid},
      {"kb_test", r.kb_test},
      {"vector_words", r.vector_words},
      {"bytes_written", r.bytes_written},
  };
  LineFile file(dir / "synth.json", LineStyle::kLfAfter);
  file.write_line(manifest.dump(2));
  file.commit();
}

std::size_t count_na(const std::vector<Pair>& pairs) {
  return static_cast<std::size_t>(
      std::count_if(pairs.begin(), pairs.end(), [](const Pair& p) { return p.relation == kNA; }));
}

void require(bool ok, const std::string& option, const std::string& rule) {
  if (!ok) throw std::invalid_argument("synth option " + option + " " + rule);
}

void require_fraction(double value, const std::string& option) {
  require(value >= 0.0 && value <= 1.0, option,
          "must be in [0, 1], got " + nlohmann::json(value).dump());
}

}  // namespace

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

std::vector<std::string> synth_preset_names() { return {"default", "bench-1m", "kb-3m", "kb-30m"}; }

SynthOptions synth_preset(const std::string& name) {
  SynthOptions options;
  if (name == "default") return options;
  if (name == "bench-1m") {  // ~1.2M sentences for throughput runs
    options.num_entities = 400000;
    options.train_pairs = 240000;
    options.test_pairs = 60000;
    options.max_sentences_per_pair = 7;
    options.vocab_size = 20000;
    return options;
  }
  if (name == "kb-3m") {  // the paper's KB scale: 3M entities, ~9M facts
    options.num_entities = 3000000;
    options.train_pairs = 20000;
    options.test_pairs = 5000;
    options.vocab_size = 5000;
    return options;
  }
  if (name == "kb-30m") {  // ten times kb-3m: the KB scaling curve of `prepare`
    options = synth_preset("kb-3m");
    options.num_entities = 30000000;
    return options;
  }
  std::string valid;
  for (const std::string& preset : synth_preset_names()) {
    valid += (valid.empty() ? "" : ", ") + preset;
  }
  throw std::invalid_argument("unknown synth preset '" + name + "' (valid presets: " + valid + ")");
}

void validate_synth_options(const SynthOptions& o) {
  // Ids must fit in 32 bits; below 200 the world has too few entities of some types.
  require(o.num_entities >= 200 && o.num_entities <= 1'000'000'000, "num_entities",
          "must be in [200, 1000000000], got " + std::to_string(o.num_entities));
  require(o.train_pairs >= 1, "train_pairs", "must be at least 1");
  require(o.test_pairs >= 1, "test_pairs", "must be at least 1");
  require(o.min_sentences_per_pair >= 1, "min_sentences_per_pair", "must be at least 1");
  require(o.max_sentences_per_pair >= o.min_sentences_per_pair && o.max_sentences_per_pair <= 10000,
          "max_sentences_per_pair",
          "must be in [min_sentences_per_pair, 10000], got " +
              std::to_string(o.max_sentences_per_pair));
  require_fraction(o.na_fraction, "na_fraction");
  require_fraction(o.noise_rate, "noise_rate");
  require_fraction(o.uninformative_test_fraction, "uninformative_test_fraction");
  require_fraction(o.distractor_rate, "distractor_rate");
  require_fraction(o.kb_valid_fraction, "kb_valid_fraction");
  require_fraction(o.kb_test_fraction, "kb_test_fraction");
  require(o.kb_valid_fraction + o.kb_test_fraction <= 0.5, "kb_test_fraction",
          "plus kb_valid_fraction must not exceed 0.5");
  require(o.vocab_size >= 10 && o.vocab_size <= 10'000'000, "vocab_size",
          "must be in [10, 10000000], got " + std::to_string(o.vocab_size));
  require(o.max_filler_run <= 100, "max_filler_run",
          "must be at most 100, got " + std::to_string(o.max_filler_run));
  require(!o.write_vectors || (o.vector_dim >= 1 && o.vector_dim <= 10000), "vector_dim",
          "must be in [1, 10000], got " + std::to_string(o.vector_dim));
}

SynthReport generate_synthetic_world(const SynthOptions& options, const std::string& out_dir) {
  validate_synth_options(options);
  const fs::path dir(out_dir);
  std::error_code error;
  fs::create_directories(dir / "kb", error);
  if (error) {
    throw std::runtime_error("synth: cannot create " + (dir / "kb").string() + ": " +
                             error.message());
  }

  const World world = build_world(options);
  const Selection selection = select_pairs(world, options);
  const Vocabulary vocabulary(options);
  const Names names(world, selection, vocabulary, options);

  SynthReport report;
  report.entities = world.entities();
  report.named_entities = names.ids().size();
  report.relations = kNumRelations;
  report.train_pairs = selection.train.size();
  report.test_pairs = selection.test.size();
  report.train_na_pairs = count_na(selection.train);
  report.test_na_pairs = count_na(selection.test);

  write_relation2id(dir, report);
  SentenceWriter sentences(names, vocabulary, options);
  for (bool test : {false, true}) {
    LineFile file(dir / (test ? "test.txt" : "train.txt"), LineStyle::kLfBetween);
    sentences.write(test ? selection.test : selection.train, test, file, report);
    file.commit();
    (test ? report.test_sentences : report.train_sentences) = file.lines();
    report.bytes_written += file.bytes();
  }
  write_uninformative(dir, selection.test, report);
  write_kb(dir, world, selection, options, report);
  if (options.write_vectors) {
    write_vectors(dir, vocabulary, names, options, report);
  } else {
    fs::remove(dir / "vectors.txt");  // a stale one would not match this world
  }
  write_manifest(dir, options, report);
  return report;
}

}  // namespace hrere::data
