#include "synth/world.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <stdexcept>
#include <utility>

namespace hrere::synth {
namespace {

// Splits `items` contiguously over `groups` (each gets at least one when items >= groups):
// the result has groups + 1 boundaries.
std::vector<std::uint32_t> balanced_bounds(std::uint32_t items, std::uint32_t groups) {
  std::vector<std::uint32_t> bounds(groups + 1);
  for (std::uint64_t g = 0; g <= groups; ++g) {
    bounds[g] = static_cast<std::uint32_t>(g * items / groups);
  }
  return bounds;
}

}  // namespace

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

namespace {

// Rounds fraction * n to the nearest count (the product is one IEEE operation).
std::size_t share(double fraction, std::size_t n) {
  return static_cast<std::size_t>(std::llround(fraction * static_cast<double>(n)));
}

// Relative frequency of each relation among the related RE pairs (NYT10-like skew).
constexpr std::array<int, kNumRelations> kRelationWeight = {0, 8, 2, 2, 2, 4, 2,
                                                            3, 1, 1, 3, 1, 1, 1};

// True when the world has any fact with this head and tail (in this direction).
bool has_fact(const World& w, std::uint32_t h, std::uint32_t t) {
  switch (w.type_of(h)) {
    case kCountry:
      return (w.is(kRegion, t) && w.country_of_region(t) == h) ||
             (w.is(kCity, t) && w.country_of(t) == h);
    case kRegion:
      return (w.is(kCountry, t) && w.country_of_region(h) == t) ||
             (w.is(kCity, t) && w.region_of(t) == h);
    case kCity: return w.is(kUniversity, t) && w.university_city[w.local(kUniversity, t)] == h;
    case kUniversity: return false;
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
    default: return false;
  }
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
    case kPlaceOfBirth: return person_fact(w.birth);
    case kPlaceLived: return person_fact(w.lived);
    case kPlaceOfDeath: return person_fact(w.death);
    case kPersonCompany: return person_fact(w.employer);
    case kEducation: return person_fact(w.university);
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
    default: throw std::logic_error("synth: no sampler for relation " + relation_name(relation));
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

}  // namespace

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

}  // namespace hrere::synth
