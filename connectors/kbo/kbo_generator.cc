#include "connectors/kbo/kbo_generator.h"

#include <openssl/evp.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "common/enterprise_number.h"
#include "common/output_file.h"
#include "common/status_macros.h"
#include "common/utf8.h"
#include "connectors/kbo/csv_reader.h"

namespace onceonly {
namespace {

// Bump when a change alters the output for the same options: an update must regenerate the
// full extract exactly as it was written.
constexpr char kGeneratorId[] = "onceonly kbo generate v1";
constexpr int64_t kDefaultFullExtractNumber = 140;
constexpr char kDefaultSnapshotDate[] = "2025-10-05";
// Establishment unit numbers are laid out in slots: enterprise index * 4 + j.
constexpr int kEstablishmentSlots = 4;

// ---- Deterministic randomness ------------------------------------------------------------

uint64_t Mix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Independent streams per (seed, enterprise, purpose), so any enterprise can be regenerated
// alone.
enum Stream : uint64_t { kStreamEnterprise = 1, kStreamNumber, kStreamModify, kStreamSelect };
uint64_t StreamSeed(uint64_t seed, uint64_t index, Stream stream) {
  return Mix64(Mix64(Mix64(seed) ^ index) ^
               (static_cast<uint64_t>(stream) * 0x2545f4914f6cdd1dULL));
}

// SplitMix64: small, fast, and the same on every platform, unlike std's distributions.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() { return Mix64(state_ += 0x9e3779b97f4a7c15ULL); }
  // Uniform in [0, n), n > 0.
  uint64_t Below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * n) >> 64);
  }
  int64_t Between(int64_t lo, int64_t hi) { return lo + static_cast<int64_t>(Below(hi - lo + 1)); }
  bool Chance(double p) { return static_cast<double>(Next() >> 11) * 0x1.0p-53 < p; }
  template <typename T, size_t N>
  const T& Pick(const T (&items)[N]) {
    return items[Below(N)];
  }
  template <typename T>
  const T& Pick(const std::vector<T>& items) {
    return items[Below(items.size())];
  }
  // 1 + a geometric count with the given mean, at most `cap`.
  int Count(double mean, int cap) {
    const double p = (mean - 1) / mean;
    int n = 1;
    while (n < cap && Chance(p)) ++n;
    return n;
  }

 private:
  uint64_t state_;
};

// ---- Dates: days since 1970-01-01 (H. Hinnant's civil algorithms; no clock, no zone) -------

int64_t DaysFromCivil(int64_t y, int m, int d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

std::string IsoDate(int64_t days) {
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const int64_t doe = days - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const int64_t m = mp < 10 ? mp + 3 : mp - 9;
  const int64_t y = yoe + era * 400 + (m <= 2);
  return absl::StrFormat("%04d-%02d-%02d", y, m, d);
}

absl::StatusOr<int64_t> ParseIsoDate(absl::string_view text, absl::string_view what) {
  int y = 0, m = 0, d = 0;
  if (text.size() != 10 || text[4] != '-' || text[7] != '-' ||
      !absl::SimpleAtoi(text.substr(0, 4), &y) || !absl::SimpleAtoi(text.substr(5, 2), &m) ||
      !absl::SimpleAtoi(text.substr(8, 2), &d) || m < 1 || m > 12 || d < 1 || d > 31) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " \"", text, "\" is not a date yyyy-mm-dd"));
  }
  int64_t days = DaysFromCivil(y, m, d);
  if (IsoDate(days) != text) {
    return absl::InvalidArgumentError(absl::StrCat(what, " \"", text, "\" does not exist"));
  }
  return days;
}

// "yyyy-mm-dd" (as stored) -> "dd-mm-yyyy" (as KBO writes it).
void AppendKboDate(std::string* out, absl::string_view iso) {
  const char kbo[10] = {iso[8], iso[9], '-', iso[5], iso[6], '-', iso[0], iso[1], iso[2], iso[3]};
  out->append(kbo, 10);
}

const int64_t kDay1950 = DaysFromCivil(1950, 1, 1);
const int64_t kDay1955 = DaysFromCivil(1955, 1, 1);
const int64_t kDay2008 = DaysFromCivil(2008, 1, 1);
const int64_t kDayLast0Series = DaysFromCivil(2022, 8, 31);  // 1xxx numbers since September 2022
const int64_t kDayFirst1Series = DaysFromCivil(2022, 9, 1);

// ---- Numbers ------------------------------------------------------------------------------

// Ten digits: the first eight and their mod-97 check.
std::string TenDigits(int64_t first_eight) {
  return absl::StrFormat("%010d", first_eight * 100 + EnterpriseCheckDigits(first_eight));
}

std::string DottedEnterpriseNumber(int64_t first_eight) {
  std::string d = TenDigits(first_eight);
  return absl::StrCat(d.substr(0, 4), ".", d.substr(4, 3), ".", d.substr(7, 3));
}

// "d.ddd.ddd.ddd": establishment unit numbers (with check digits) and branch ids (without).
std::string DottedUnitNumber(const std::string& d) {
  return absl::StrCat(d.substr(0, 1), ".", d.substr(1, 3), ".", d.substr(4, 3), ".",
                      d.substr(7, 3));
}

// ---- Vocabulary -----------------------------------------------------------------------------
// clang-format off

enum class Region { kFlanders, kWallonia, kBrussels, kGermanSpeaking };

struct Place {
  const char* zipcode;
  const char* nl;
  const char* fr;
};

// Postcodes 1000-1210 of the 19 Brussels municipalities, with their Dutch and French names
// (the City of Brussels has four postcodes; 1000, its centre, is listed twice for weight).
constexpr Place kBrussels[] = {
    {"1000", "Brussel", "Bruxelles"}, {"1000", "Brussel", "Bruxelles"},
    {"1020", "Brussel", "Bruxelles"}, {"1030", "Schaarbeek", "Schaerbeek"},
    {"1040", "Etterbeek", "Etterbeek"}, {"1050", "Elsene", "Ixelles"},
    {"1060", "Sint-Gillis", "Saint-Gilles"}, {"1070", "Anderlecht", "Anderlecht"},
    {"1080", "Sint-Jans-Molenbeek", "Molenbeek-Saint-Jean"}, {"1081", "Koekelberg", "Koekelberg"},
    {"1082", "Sint-Agatha-Berchem", "Berchem-Sainte-Agathe"}, {"1083", "Ganshoren", "Ganshoren"},
    {"1090", "Jette", "Jette"}, {"1120", "Brussel", "Bruxelles"}, {"1130", "Brussel", "Bruxelles"},
    {"1140", "Evere", "Evere"}, {"1150", "Sint-Pieters-Woluwe", "Woluwe-Saint-Pierre"},
    {"1160", "Oudergem", "Auderghem"}, {"1170", "Watermaal-Bosvoorde", "Watermael-Boitsfort"},
    {"1180", "Ukkel", "Uccle"}, {"1190", "Vorst", "Forest"},
    {"1200", "Sint-Lambrechts-Woluwe", "Woluwe-Saint-Lambert"},
    {"1210", "Sint-Joost-ten-Node", "Saint-Josse-ten-Noode"},
};

constexpr Place kFlanders[] = {
    {"2000", "Antwerpen", "Antwerpen"}, {"2018", "Antwerpen", "Antwerpen"},
    {"2140", "Antwerpen", "Antwerpen"},
    {"2070", "Beveren-Kruibeke-Zwijndrecht", "Beveren-Kruibeke-Zwijndrecht"},
    {"2220", "Heist-op-den-Berg", "Heist-op-den-Berg"}, {"2260", "Westerlo", "Westerlo"},
    {"2300", "Turnhout", "Turnhout"}, {"2400", "Mol", "Mol"}, {"2440", "Geel", "Geel"},
    {"2500", "Lier", "Lier"}, {"2550", "Kontich", "Kontich"}, {"2640", "Mortsel", "Mortsel"},
    {"2800", "Mechelen", "Mechelen"}, {"2850", "Boom", "Boom"}, {"2900", "Schoten", "Schoten"},
    {"2980", "Zoersel", "Zoersel"}, {"3000", "Leuven", "Leuven"}, {"3020", "Herent", "Herent"},
    {"3080", "Tervuren", "Tervuren"}, {"3200", "Aarschot", "Aarschot"},
    {"3300", "Tienen", "Tienen"}, {"3500", "Hasselt", "Hasselt"}, {"3600", "Genk", "Genk"},
    {"3620", "Lanaken", "Lanaken"}, {"3700", "Tongeren-Borgloon", "Tongeren-Borgloon"},
    {"3800", "Sint-Truiden", "Sint-Truiden"}, {"3900", "Pelt", "Pelt"}, {"1500", "Halle", "Halle"},
    {"1700", "Dilbeek", "Dilbeek"}, {"1730", "Asse", "Asse"}, {"1800", "Vilvoorde", "Vilvoorde"},
    {"1930", "Zaventem", "Zaventem"}, {"1970", "Wezembeek-Oppem", "Wezembeek-Oppem"},
    {"8000", "Brugge", "Brugge"}, {"8300", "Knokke-Heist", "Knokke-Heist"},
    {"8400", "Oostende", "Oostende"}, {"8500", "Kortrijk", "Kortrijk"},
    {"8550", "Zwevegem", "Zwevegem"}, {"8800", "Roeselare", "Roeselare"},
    {"8900", "Ieper", "Ieper"}, {"9000", "Gent", "Gent"}, {"9040", "Gent", "Gent"},
    {"9090", "Merelbeke-Melle", "Merelbeke-Melle"}, {"9100", "Sint-Niklaas", "Sint-Niklaas"},
    {"9140", "Temse", "Temse"}, {"9200", "Dendermonde", "Dendermonde"}, {"9300", "Aalst", "Aalst"},
    {"9700", "Oudenaarde", "Oudenaarde"}, {"3798", "Voeren", "Voeren"},
    {"9800", "Deinze", "Deinze"},
};

constexpr Place kWallonia[] = {
    {"1300", "Wavre", "Wavre"},
    {"1340", "Ottignies-Louvain-la-Neuve", "Ottignies-Louvain-la-Neuve"},
    {"1380", "Lasne", "Lasne"}, {"1400", "Nivelles", "Nivelles"}, {"1410", "Waterloo", "Waterloo"},
    {"1420", "Braine-l'Alleud", "Braine-l'Alleud"}, {"4000", "Liège", "Liège"},
    {"4020", "Liège", "Liège"}, {"4031", "Liège", "Liège"},
    {"4050", "Chaudfontaine", "Chaudfontaine"}, {"4100", "Seraing", "Seraing"},
    {"4500", "Huy", "Huy"}, {"4620", "Fléron", "Fléron"}, {"4800", "Verviers", "Verviers"},
    {"5000", "Namur", "Namur"}, {"5100", "Namur", "Namur"}, {"5500", "Dinant", "Dinant"},
    {"6000", "Charleroi", "Charleroi"}, {"6001", "Charleroi", "Charleroi"},
    {"6200", "Châtelet", "Châtelet"}, {"6700", "Aarlen", "Arlon"},
    {"6900", "Marche-en-Famenne", "Marche-en-Famenne"}, {"7000", "Bergen", "Mons"},
    {"7021", "Bergen", "Mons"}, {"7100", "La Louvière", "La Louvière"},
    {"7190", "Écaussinnes", "Écaussinnes"}, {"7340", "Colfontaine", "Colfontaine"},
    {"7370", "Dour", "Dour"}, {"7500", "Doornik", "Tournai"}, {"7600", "Péruwelz", "Péruwelz"},
    {"7700", "Moeskroen", "Mouscron"}, {"7870", "Lens (Hainaut)", "Lens (Hainaut)"},
};

constexpr Place kGermanSpeaking[] = {
    {"4700", "Eupen", "Eupen"}, {"4720", "Kelmis", "La Calamine"},
    {"4760", "Büllingen", "Bullange"}, {"4780", "Sankt Vith", "Saint-Vith"},
};

struct ForeignPlace {
  const char* country_nl;
  const char* country_fr;
  const char* zipcode;
  const char* city_nl;
  const char* city_fr;
  const char* street;
};

constexpr ForeignPlace kForeign[] = {
    {"Frankrijk", "France", "75008", "Parijs", "Paris", "Rue du Faubourg Saint-Honoré"},
    {"Frankrijk", "France", "59000", "Rijsel", "Lille", "Rue Nationale"},
    {"Nederland", "Pays-Bas", "1017 CE", "Amsterdam", "Amsterdam", "Herengracht"},
    {"Nederland", "Pays-Bas", "4811 XJ", "Breda", "Breda", "Ginnekenweg"},
    {"Duitsland", "Allemagne", "52062", "Aken", "Aix-la-Chapelle", "Theaterstraße"},
    {"Luxemburg", "Luxembourg", "L-1724", "Luxemburg", "Luxembourg", "Boulevard Prince Henri"},
    {"Verenigd Koninkrijk", "Royaume-Uni", "EC2V 7HH", "Londen", "Londres", "Gresham Street"},
    {"Verenigde Staten van Amerika", "États-Unis d'Amérique", "10017", "New York", "New York",
     "Lexington Avenue"},
};

struct StreetPair {
  const char* nl;
  const char* fr;
};

constexpr StreetPair kBrusselsStreets[] = {
    {"Wetstraat", "Rue de la Loi"}, {"Louizalaan", "Avenue Louise"}, {"Nieuwstraat", "Rue Neuve"},
    {"Kunstlaan", "Avenue des Arts"}, {"Elsensesteenweg", "Chaussée d'Ixelles"},
    {"Koningsstraat", "Rue Royale"}, {"Anspachlaan", "Boulevard Anspach"},
    {"Haachtsesteenweg", "Chaussée de Haecht"}, {"Waterloosesteenweg", "Chaussée de Waterloo"},
    {"Sint-Katelijnestraat", "Rue Sainte-Catherine"},
    {"Kerkhof van Brussellaan", "Av. du Cimetière de Brux."},
    {"Louis Mettewielaan", "Boulevard Louis Mettewie"},
    {"Edmond Van Nieuwenhuyselaan", "Av. Edmond Van Nieuwenhuyse"},
    {"Generaal Jacqueslaan", "Boulevard Général Jacques"}, {"Vlaamsesteenweg", "Rue de Flandre"},
    {"Zuidlaan", "Boulevard du Midi"}, {"Hoogstraat", "Rue Haute"},
    {"Tervurenlaan", "Avenue de Tervueren"}, {"Brugmannlaan", "Avenue Brugmann"},
    {"Bergensesteenweg", "Chaussée de Mons"}, {"Kortenberglaan", "Avenue de Cortenbergh"},
    {"Franklin Rooseveltlaan", "Avenue Franklin Roosevelt"}, {"Molièrelaan", "Avenue Molière"},
    {"Gulden-Vlieslaan", "Avenue de la Toison d'Or"}, {"Uyttenhovestraat", "Rue Uyttenhove"},
};

constexpr const char* kDutchStreetStems[] = {
    "Kerk", "Molen", "Dorp", "Stations", "School", "Beek", "Linden", "Kastanje", "Hoog", "Nieuw",
    "Kapel", "Veld", "Brug", "Meer", "Zand", "Berg", "Bos", "Hof", "Markt", "Leuvense", "Brusselse",
    "Gentse", "Antwerpse", "Koning Albert", "Sint-Jans", "Pastoor Mellaerts", "Lamorinière",
    "Viersel", "Heikant", "Kiewit",
};
constexpr const char* kDutchStreetSuffixes[] = {
    "straat", "straat", "straat", "laan", "weg", "plein", "dreef", "steenweg",
};
constexpr const char* kDutchDistrictTags[] = {
    "(STE)", "(KMT)", "(Kor)", "(S)", "(LST)",
};

constexpr const char* kFrenchStreetKinds[] = {
    "Rue", "Rue", "Rue", "Avenue", "Chaussée", "Place", "Boulevard", "Chemin",
};
constexpr const char* kFrenchStreetNames[] = {
    "de la Station", "de l'Église", "du Moulin", "Haute", "des Écoles", "Saint-Pierre", "du Centre",
    "de Bruxelles", "de Namur", "Albert Ier", "des Champs", "de la Gare", "Émile Vandervelde",
    "du Château", "de Mons", "Léopold II", "des Fusillés", "Pierre-Molinghen", "de France",
    "du Roeulx",
};

constexpr const char* kGermanStreets[] = {
    "Hauptstraße", "Aachener Straße", "Kirchstraße", "Bergstraße", "Klosterstraße",
    "Malmedyer Straße",
};

constexpr const char* kBoxes[] = {
    "1", "2", "3", "12", "22", "b", "A", "0101", "2ét", "/", "D000", "LM", "bus 3", "303",
};
constexpr const char* kExtraAddressInfo[] = {
    "KMO zone Putakker", "Résidence Les Tilleuls", "Handelscentrum \"Ter Beke\"",
    "Bâtiment B, 3e étage", "Industriezone Noord", "Galerie du Roi",
};

constexpr const char* kDutchSurnames[] = {
    "Peeters", "Janssens", "Maes", "Jacobs", "Mertens", "Willems", "Claes", "Goossens", "Wouters",
    "De Smet", "Vermeulen", "Van den Broeck", "Hermans", "De Brouwer", "Verhaegen", "D'Hondt",
    "Vandenbroucke", "Van Nimmen", "De Groote", "Callebaut", "Vets", "Menten", "Vantongerloo",
    "Declercq", "Van de Velde", "Coppens", "Lemmens", "Bogaerts", "Verstraete", "Van Damme",
    "Smets", "Dierckx", "Aerts", "Michiels", "Pauwels", "Van Acker", "De Backer", "Martens",
    "Stevens", "Delaruelle", "Vandereviere", "De Craeye",
};
constexpr const char* kFrenchSurnames[] = {
    "Dubois", "Lambert", "Dupont", "Martin", "Simon", "Laurent", "Lejeune", "Lefèbvre", "François",
    "Renard", "Leclercq", "Mathieu", "Fontaine", "Gérard", "Collignon", "Deprez", "Prégaldien",
    "Malfroot", "Hubert", "Piron", "Lemaire", "Denis", "Noël", "Masson", "Bertrand", "Thiry",
    "Goffaux", "Lecomte", "Delvaux", "Wéry", "Hénin", "Mage", "Lefèvre", "Müller-Renard",
};
constexpr const char* kOtherSurnames[] = {
    "Benali", "El Amrani", "Nowak", "Çelik", "Öztürk", "Kowalski", "Gonçalves", "Müller", "Schmitz",
    "Yılmaz", "Rossi", "Ferreira", "Popescu", "Nguyen", "Diallo", "Cabrera Valarezo", "Bah", "Kaya",
    "García", "Ferrarelli", "O'Brien",
};
constexpr const char* kFirstNames[] = {
    "Jan", "Marie", "Noah", "Emma", "Lucas", "Louise", "Arthur", "Olivia", "Liam", "Elise", "Chloé",
    "Zoë", "Anaïs", "Noël", "Joël", "Léa", "Hélène", "François", "Jérôme", "Björn", "Jürgen",
    "Ayşe", "Mohamed", "Fatima", "Senne", "Febe", "Tine", "Manon", "Ine", "Coralie", "Olivier",
    "Alexandre", "Vicky", "Brenda", "Jessica", "Angel", "Bianca", "Oriana", "Mathéo", "Inès",
    "Kévin", "Cédric", "Sofie", "Pieter", "Wouter", "Céline", "Adèle", "Maëlle",
};

constexpr const char* kDutchTrades[] = {
    "Bouwonderneming", "Bakkerij", "Garage", "Schrijnwerkerij", "Dakwerken", "Elektro", "Immo",
    "Transport", "Tuinaanleg", "Frituur", "Kapsalon", "Slagerij", "Apotheek", "Brouwerij",
    "Advocatenkantoor", "Boekhoudkantoor", "Schilderwerken", "Loodgieterij", "Taverne",
    "Verzekeringen",
};
constexpr const char* kDutchNouns[] = {
    "De Gouden Leeuw", "De Zwaan", "Het Anker", "De Linde", "Ter Beke", "De Molen", "'t Hoekske",
    "De Kroon", "Sint-Jan", "Het Wiel", "De Sleutel", "Den Engel", "Ter Duinen", "'t Pleintje",
    "De Vlaamse Reus", "Het Groene Woud",
};
constexpr const char* kFrenchTrades[] = {
    "Boulangerie", "Pâtisserie", "Garage", "Menuiserie", "Toitures", "Électricité", "Immobilière",
    "Transports", "Boucherie", "Pharmacie", "Brasserie", "Fiduciaire", "Peinture", "Plomberie",
    "Assurances", "Taverne", "Café", "Salon de coiffure", "Cabinet d'avocats", "Friterie",
};
constexpr const char* kFrenchNouns[] = {
    "du Centre", "de la Gare", "des Ardennes", "du Lion d'Or", "Saint-Michel", "de la Meuse",
    "du Château", "de l'Étoile", "du Pont", "des Trois Frontières", "du Marché", "de la Vallée",
};
constexpr const char* kFrenchSigns[] = {
    "Le Relais", "La Chaumière", "Les Tilleuls", "L'Étoile", "Le Cerf", "La Renaissance",
};
constexpr const char* kEnglishWords[] = {
    "Blue", "Nova", "Prime", "Smart", "Green", "Atlas", "Bright", "Vital", "Nexus", "Orion", "Peak",
    "Urban", "Pixel", "Quantum", "Silver",
};
constexpr const char* kEnglishSuffixes[] = {
    "Solutions", "Consulting", "Technologies", "Services", "Invest", "Group", "Partners", "Digital",
    "Logistics", "Ventures", "Holding", "Management",
};
constexpr const char* kForeignSuffixes[] = {
    "Ltd", "GmbH", "SAS", "B.V.", "S.à r.l.", "Inc.",
};

// Juridical forms of legal persons, weighted roughly as in the register. "other" draws from
// every JuridicalForm in code.csv.
struct WeightedForm {
  const char* code;
  int weight;
  const char* suffix_nl;
  const char* suffix_fr;
};
constexpr WeightedForm kForms[] = {
    {"610", 34, "BV", "SRL"}, {"017", 17, "VZW", "ASBL"}, {"014", 9, "NV", "SA"},
    {"015", 8, "BVBA", "SPRL"}, {"070", 6, "", ""}, {"706", 5, "CV", "SC"},
    {"612", 4, "CommV", "SComm"}, {"011", 3, "VOF", "SNC"}, {"008", 2, "CVBA", "SCRL"},
    {"030", 2, "", ""}, {"026", 1, "Private stichting", "Fondation privée"}, {"other", 9, "", ""},
};

// clang-format on

// ---- The code table -----------------------------------------------------------------------

// What the generator reads from code.csv: every code it writes is drawn from here or checked
// against it.
struct CodeBook {
  std::map<std::string, std::set<std::string>> categories;
  std::vector<std::string> juridical_forms;
  std::vector<std::string> juridical_situations;
  struct NaceCodes {
    std::vector<std::string> five, seven;  // sorted
  };
  NaceCodes nace[3];  // 2003, 2008, 2025
  std::string sha256;
  int64_t bytes = 0;

  bool Has(const std::string& category, const std::string& code) const {
    auto it = categories.find(category);
    return it != categories.end() && it->second.count(code) > 0;
  }
};

constexpr const char* kNaceVersions[] = {"2003", "2008", "2025"};

absl::Status CheckFile(std::FILE* f, const std::string& path, absl::string_view action) {
  if (f == nullptr || std::ferror(f)) {
    return absl::UnavailableError(
        absl::StrCat("cannot ", action, " ", path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

using FilePtr = std::unique_ptr<std::FILE, int (*)(std::FILE*)>;

// A file of the extract: never over one already there, nor through a symlink.
absl::StatusOr<FilePtr> CreateOutput(const std::string& path) {
  ASSIGN_OR_RETURN(int fd, CreateNewFile(path, 0644));
  FilePtr file(::fdopen(fd, "wb"), &std::fclose);
  if (file == nullptr) {
    ::close(fd);
    return CheckFile(nullptr, path, "create");
  }
  return file;
}

// Copies code.csv byte for byte into `out_path` and hashes it.
absl::Status CopyCodeTable(const std::string& from, const std::string& out_path, CodeBook* book) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> in(std::fopen(from.c_str(), "rb"), &std::fclose);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read the KBO code table ", from, ": ", std::strerror(errno),
                     " (pass --codes with the code.csv of a real KBO extract)"));
  }
  ASSIGN_OR_RETURN(FilePtr out, CreateOutput(out_path));
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  std::vector<char> buffer(1 << 20);
  while (true) {
    size_t n = std::fread(buffer.data(), 1, buffer.size(), in.get());
    if (n > 0) {
      EVP_DigestUpdate(ctx.get(), buffer.data(), n);
      if (std::fwrite(buffer.data(), 1, n, out.get()) != n) {
        return CheckFile(nullptr, out_path, "write");
      }
      book->bytes += static_cast<int64_t>(n);
    }
    if (n < buffer.size()) break;
  }
  RETURN_IF_ERROR(CheckFile(std::ferror(in.get()) ? nullptr : in.get(), from, "read"));
  if (std::fclose(out.release()) != 0) return CheckFile(nullptr, out_path, "write");
  unsigned char hash[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_DigestFinal_ex(ctx.get(), hash, &size);
  book->sha256 = absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(hash), size));
  return absl::OkStatus();
}

absl::Status LoadCodeBook(const std::string& path, CodeBook* book) {
  ASSIGN_OR_RETURN(std::unique_ptr<CsvReader> reader, CsvReader::Open(path));
  std::vector<std::string> fields;
  ASSIGN_OR_RETURN(bool any, reader->Next(&fields));
  const std::vector<std::string> header = {"Category", "Code", "Language", "Description"};
  if (!any || fields != header) {
    return absl::InvalidArgumentError(absl::StrCat(
        path,
        ":1: header is not \"Category\",\"Code\",\"Language\",\"Description\"; --codes "
        "must be the code.csv of a real KBO extract"));
  }
  while (true) {
    ASSIGN_OR_RETURN(bool more, reader->Next(&fields));
    if (!more) break;
    if (fields.size() != 4) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s:%d: %d columns, expected 4", path, reader->line(), fields.size()));
    }
    book->categories[fields[0]].insert(fields[1]);
  }
  auto& forms = book->categories["JuridicalForm"];
  book->juridical_forms.assign(forms.begin(), forms.end());
  auto& situations = book->categories["JuridicalSituation"];
  book->juridical_situations.assign(situations.begin(), situations.end());

  // Every fixed code the generator writes.
  const std::vector<std::pair<const char*, std::vector<const char*>>> required = {
      {"Status", {"AC"}},
      {"JuridicalSituation", {"000"}},
      {"TypeOfEnterprise", {"1", "2"}},
      {"JuridicalForm",
       {"610", "017", "014", "015", "070", "706", "612", "011", "008", "030", "026"}},
      {"Language", {"0", "1", "2", "3", "4"}},
      {"TypeOfDenomination", {"001", "002", "003", "004"}},
      {"TypeOfAddress", {"REGO", "BAET", "ABBR"}},
      {"ContactType", {"TEL", "EMAIL", "WEB"}},
      {"EntityContact", {"ENT", "EST", "BRA"}},
      {"ActivityGroup", {"001", "003", "006", "007"}},
      {"Classification", {"MAIN", "SECO", "ANCI"}},
  };
  for (const auto& [category, codes] : required) {
    for (const char* code : codes) {
      if (!book->Has(category, code)) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": no code \"", code, "\" in category ", category,
                         "; --codes must be the complete code.csv of a real KBO extract"));
      }
    }
  }
  for (int v = 0; v < 3; ++v) {
    const std::string category = absl::StrCat("Nace", kNaceVersions[v]);
    for (const std::string& code : book->categories[category]) {
      if (code.size() == 5) book->nace[v].five.push_back(code);
      if (code.size() == 7) book->nace[v].seven.push_back(code);
    }
    if (book->nace[v].five.empty() || book->nace[v].seven.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": category ", category,
                       " has no 5- or no 7-digit codes; --codes must be the "
                       "complete code.csv of a real KBO extract"));
    }
  }
  return absl::OkStatus();
}

// ---- Rows of one enterprise -----------------------------------------------------------------

// One table's rows, flattened, in stored form (dates ISO): what the importer will hold.
class TableRows {
 public:
  explicit TableRows(int columns) : columns_(columns) {}
  void Add(std::initializer_list<absl::string_view> cells) {
    for (absl::string_view c : cells) cells_.emplace_back(c.data(), c.size());
  }
  size_t size() const { return cells_.size() / columns_; }
  const std::string& cell(size_t row, int column) const { return cells_[row * columns_ + column]; }
  std::string& mutable_cell(size_t row, int column) { return cells_[row * columns_ + column]; }
  void Row(size_t row, std::vector<absl::string_view>* out) const {
    out->resize(columns_);
    for (int c = 0; c < columns_; ++c) (*out)[c] = cells_[row * columns_ + c];
  }
  void EraseRow(size_t row) {
    cells_.erase(cells_.begin() + row * columns_, cells_.begin() + (row + 1) * columns_);
  }
  // Drops every row of `entity` (the first column).
  void EraseEntity(absl::string_view entity) {
    for (size_t r = size(); r-- > 0;) {
      if (cell(r, 0) == entity) EraseRow(r);
    }
  }
  void Clear() { cells_.clear(); }

 private:
  int columns_;
  std::vector<std::string> cells_;
};

// An enterprise and everything hanging off it, plus what a later modification needs to know.
struct EnterpriseDraft {
  EnterpriseDraft() {
    for (int t = 0; t < kKboTableCount; ++t) {
      tables.emplace_back(static_cast<int>(KboTables()[t].sql_columns.size()));
    }
  }
  TableRows& rows(KboTable t) { return tables[static_cast<int>(t)]; }
  const TableRows& rows(KboTable t) const { return tables[static_cast<int>(t)]; }

  int64_t index = 0;
  std::string number;
  bool natural = false;
  int64_t start_day = 0;
  Region region = Region::kFlanders;
  std::string language;  // code.csv Language: "1" FR, "2" NL, "3" DE, "4" EN
  std::string surname, first_name, juridical_form;
  std::string slug;        // lowercase ASCII, for e-mail and web addresses
  int establishments = 0;  // slots 0..establishments-1 are in use
  std::vector<TableRows> tables;
};

// ---- The enterprise factory ------------------------------------------------------------------

// Builds enterprise `index` of an extract of `enterprises` enterprises, from the seed alone.
class EnterpriseFactory {
 public:
  EnterpriseFactory(const CodeBook& codes, uint64_t seed, int64_t enterprises, int64_t snapshot_day)
      : codes_(codes),
        seed_(seed),
        enterprises_(enterprises),
        series1_(enterprises * 8 / 100),
        series0_(enterprises - series1_),
        snapshot_day_(snapshot_day) {}

  // Index < enterprises: as in the full extract. Index >= enterprises: the (index -
  // enterprises)-th enterprise registered after it, shortly before `registered_by`.
  void Generate(int64_t index, int64_t registered_by, EnterpriseDraft* d) const {
    for (TableRows& t : d->tables) t.Clear();
    Rng rng(StreamSeed(seed_, index, kStreamEnterprise));
    d->index = index;
    d->number = EnterpriseNumber(index);
    d->start_day = StartDay(index, registered_by, rng);
    d->natural = rng.Chance(0.45);
    d->region = PickRegion(rng);
    d->language = LanguageOf(d->region, rng);
    d->establishments = 0;

    const std::string situation = rng.Chance(0.97) ? "000" : rng.Pick(codes_.juridical_situations);
    std::string cac;
    if (d->natural) {
      d->juridical_form.clear();
    } else {
      d->juridical_form = PickForm(rng);
      if (d->juridical_form == "015") cac = "610";  // BVBA, converted by the 2019 company code
      if (d->juridical_form == "008") cac = "706";
    }
    d->rows(KboTable::kEnterprise)
        .Add({d->number, "AC", situation, d->natural ? "1" : "2", d->juridical_form, cac,
              IsoDate(d->start_day)});

    TableRows& names = d->rows(KboTable::kDenomination);
    if (d->natural) {
      PersonName(d->region, rng, &d->surname, &d->first_name);
      names.Add({d->number, "0", "001", absl::StrCat(d->surname, ", ", d->first_name)});
      d->slug = Slug(d->surname);
    } else {
      std::string name = CompanyName(d->language, d->juridical_form, rng, &d->slug);
      names.Add({d->number, d->language, "001", name});
      if (rng.Chance(d->region == Region::kBrussels ? 0.45 : 0.10)) {
        std::string other = d->language == "1" ? "2" : "1";
        names.Add({d->number, other, "001", CompanyName(other, d->juridical_form, rng, nullptr)});
      }
      if (rng.Chance(0.22)) names.Add({d->number, d->language, "002", Abbreviation(name, rng)});
      if (rng.Chance(0.05)) {
        names.Add({d->number, d->language, "003", CompanyName(d->language, "", rng, nullptr)});
      }
      if (d->juridical_form == "030") {
        AddForeignSeat(d->number, rng, d);
      } else {
        AddAddress(d->number, "REGO", d->region, d->start_day, rng, d);
      }
      if (rng.Chance(0.30)) AddContacts(d->number, "ENT", rng.Count(1.7, 6), rng, d);
    }
    AddActivities(d->number, d->start_day, rng.Count(3.7, 25), true, rng, d);

    // Units open on the first day or later, up to the day before the extract.
    const int64_t last_day =
        std::max(d->start_day, index >= enterprises_ ? registered_by - 1 : LastDay());
    const int units = EstablishmentCount(d->natural, rng);
    for (int j = 0; j < units; ++j) {
      int64_t opened =
          rng.Chance(0.6)
              ? d->start_day
              : d->start_day + static_cast<int64_t>(rng.Below(last_day - d->start_day + 1));
      AddEstablishment(opened, rng, d);
    }
    if (d->juridical_form == "030" && rng.Chance(0.6)) AddBranch(rng, d);
  }

  // A plausible day's change to an existing enterprise, effective on `day`: moved seat, new
  // or closed establishment unit, new name, new activity, contacts, juridical situation.
  void Modify(Rng& rng, int64_t day, EnterpriseDraft* d) const {
    const int changes = rng.Chance(0.3) ? 2 : 1;
    for (int i = 0; i < changes; ++i) {
      const uint64_t kind = rng.Below(100);
      if (kind < 30) {
        MoveAddress(rng, d);
      } else if (kind < 50 && d->establishments < kEstablishmentSlots) {
        AddEstablishment(day, rng, d);
      } else if (kind < 65 && !d->natural) {
        TableRows& names = d->rows(KboTable::kDenomination);
        for (size_t r = 0; r < names.size(); ++r) {
          if (names.cell(r, 0) == d->number && names.cell(r, 2) == "001") {
            names.mutable_cell(r, 3) = CompanyName(d->language, d->juridical_form, rng, nullptr);
            break;
          }
        }
      } else if (kind < 75) {
        TableRows& contacts = d->rows(KboTable::kContact);
        size_t before = contacts.size();
        contacts.EraseEntity(d->number);
        if (contacts.size() == before) AddContacts(d->number, "ENT", rng.Count(1.5, 3), rng, d);
      } else if (kind < 82 && d->establishments > 1) {
        CloseLastEstablishment(d);
      } else if (kind < 90) {
        TableRows& enterprise = d->rows(KboTable::kEnterprise);
        if (enterprise.cell(0, 4) == "015") {  // the BVBA becomes a BV
          enterprise.mutable_cell(0, 4) = "610";
          enterprise.mutable_cell(0, 5) = "";
        } else {
          enterprise.mutable_cell(0, 2) = rng.Pick(codes_.juridical_situations);
        }
      } else {
        AddActivities(d->number, d->start_day, 1, false, rng, d);
      }
    }
  }

 private:
  int64_t LastDay() const { return snapshot_day_ - 1; }

  std::string EnterpriseNumber(int64_t index) const {
    Rng rng(StreamSeed(seed_, index, kStreamNumber));
    int64_t first_eight;
    if (index >= enterprises_) {  // registered after the full extract: the newest 1xxx numbers
      first_eight = 10'400'000 + (index - enterprises_) * 5 + static_cast<int64_t>(rng.Below(5));
    } else if (index < series0_) {  // 0200.000.0xx - 0899.999.9xx, in registration order
      const int64_t stride = 7'000'000 / series0_;
      first_eight = 2'000'000 + index * stride + static_cast<int64_t>(rng.Below(stride));
    } else {  // 1000.000.0xx - 1039.999.9xx
      const int64_t stride = 400'000 / series1_;
      first_eight =
          10'000'000 + (index - series0_) * stride + static_cast<int64_t>(rng.Below(stride));
    }
    return DottedEnterpriseNumber(first_eight);
  }

  // A bijection of the slot onto 2.000.000.0xx - 2.999.999.9xx, so units look scattered.
  std::string EstablishmentNumber(int64_t index, int j) const {
    const int64_t slot = index * kEstablishmentSlots + j;
    const int64_t scattered = (slot * 3'141'593 + 2'718'281) % 10'000'000;
    return DottedUnitNumber(TenDigits(20'000'000 + scattered));
  }

  // Branch ids start with 9 and carry no check digits.
  static std::string BranchId(int64_t index, Rng& rng) {
    return DottedUnitNumber(absl::StrFormat(
        "%010d", 9'001'000'000 + index * 100 + static_cast<int64_t>(rng.Below(100))));
  }

  // Numbers were handed out in time order: 0xxx until August 2022, 1xxx since.
  int64_t StartDay(int64_t index, int64_t registered_by, Rng& rng) const {
    if (index >= enterprises_) return registered_by - static_cast<int64_t>(rng.Below(45));
    int64_t day;
    if (index < series0_) {
      const double f = static_cast<double>(index) / static_cast<double>(series0_);
      day = kDay1955 + static_cast<int64_t>(f * static_cast<double>(kDayLast0Series - kDay1955)) +
            rng.Between(-400, 400);
      return std::clamp(day, kDay1950, kDayLast0Series);
    }
    const double f =
        static_cast<double>(index - series0_) / static_cast<double>(std::max<int64_t>(series1_, 1));
    day = kDayFirst1Series +
          static_cast<int64_t>(f * static_cast<double>(LastDay() - kDayFirst1Series)) +
          rng.Between(-20, 20);
    return std::clamp(day, kDayFirst1Series, LastDay());
  }

  static Region PickRegion(Rng& rng) {
    const uint64_t r = rng.Below(1000);
    if (r < 105) return Region::kBrussels;
    if (r < 120) return Region::kGermanSpeaking;
    if (r < 680) return Region::kFlanders;
    return Region::kWallonia;
  }

  static std::string LanguageOf(Region region, Rng& rng) {
    if (rng.Chance(0.04)) return "4";
    switch (region) {
      case Region::kFlanders:
        return rng.Chance(0.97) ? "2" : "1";
      case Region::kWallonia:
        return rng.Chance(0.97) ? "1" : "2";
      case Region::kBrussels:
        return rng.Chance(0.65) ? "1" : "2";
      case Region::kGermanSpeaking:
        return rng.Chance(0.8) ? "3" : "1";
    }
    return "0";
  }

  std::string PickForm(Rng& rng) const {
    int total = 0;
    for (const WeightedForm& f : kForms) total += f.weight;
    int r = static_cast<int>(rng.Below(total));
    for (const WeightedForm& f : kForms) {
      if (r < f.weight) {
        if (std::strcmp(f.code, "other") == 0) return rng.Pick(codes_.juridical_forms);
        return f.code;
      }
      r -= f.weight;
    }
    return "610";
  }

  static int EstablishmentCount(bool natural, Rng& rng) {
    const uint64_t r = rng.Below(100);
    if (natural) return r < 27 ? 0 : r < 90 ? 1 : r < 97 ? 2 : 3;
    return r < 35 ? 0 : r < 80 ? 1 : r < 90 ? 2 : r < 95 ? 3 : 4;
  }

  // Lowercase ASCII for e-mail and web addresses: "François" -> "francois".
  static std::string Slug(absl::string_view text) {
    // Latin-1 letters U+00C0..U+00FF (UTF-8 C3 80..C3 BF) without their accents.
    static constexpr char kFolded[] =
        "aaaaaaaceeeeiiiidnooooo_ouuuuyts"
        "aaaaaaaceeeeiiiidnooooo_ouuuuyty";
    std::string slug;
    for (size_t i = 0; i < text.size(); ++i) {
      const unsigned char c = static_cast<unsigned char>(text[i]);
      if (absl::ascii_isalnum(c)) {
        slug.push_back(absl::ascii_tolower(c));
      } else if (c == 0xC3 && i + 1 < text.size()) {
        const unsigned char next = static_cast<unsigned char>(text[++i]);
        if (next >= 0x80 && next <= 0xBF && kFolded[next - 0x80] != '_') {
          slug.push_back(kFolded[next - 0x80]);
        }
      }
    }
    return slug.empty() ? "info" : slug;
  }

  static void PersonName(Region region, Rng& rng, std::string* surname, std::string* first) {
    const uint64_t r = rng.Below(100);
    const bool dutch = region == Region::kFlanders   ? r < 80
                       : region == Region::kBrussels ? r < 30
                                                     : r < 8;
    const bool other = !dutch && r >= 82;
    *surname = dutch   ? rng.Pick(kDutchSurnames)
               : other ? rng.Pick(kOtherSurnames)
                       : rng.Pick(kFrenchSurnames);
    *first = rng.Pick(kFirstNames);
  }

  static const WeightedForm* FormInfo(const std::string& code) {
    for (const WeightedForm& f : kForms) {
      if (code == f.code) return &f;
    }
    return nullptr;
  }

  // A company name in `language`, with the quirks of the register: commas, ampersands,
  // apostrophes and double quotes inside names, accents, a legal-form suffix or not.
  static std::string CompanyName(const std::string& language, const std::string& form, Rng& rng,
                                 std::string* slug) {
    // Every draw is made up front, in a fixed order: the order in which a compiler evaluates
    // function arguments is unspecified, and the bytes must not depend on it.
    const bool french = language == "1" || (language == "3" && rng.Chance(0.5));
    const char* surname = french ? rng.Pick(kFrenchSurnames) : rng.Pick(kDutchSurnames);
    const char* surname2 = french ? rng.Pick(kFrenchSurnames) : rng.Pick(kDutchSurnames);
    const char* trade = french ? rng.Pick(kFrenchTrades) : rng.Pick(kDutchTrades);
    const char* noun = french ? rng.Pick(kFrenchNouns) : rng.Pick(kDutchNouns);
    const char* sign = rng.Pick(kFrenchSigns);
    const char* word = rng.Pick(kEnglishWords);
    const char* english = rng.Pick(kEnglishSuffixes);
    const char* foreign = rng.Pick(kForeignSuffixes);
    const uint64_t r = rng.Below(100);
    const bool with_form = rng.Chance(0.35);
    const bool shouting = rng.Chance(0.02);

    std::string name;
    const char* key = surname;
    if (form == "070") {
      const char* place = french ? sign : noun;
      name = absl::StrCat(r < 50 ? (french ? "Résidence " : "Residentie ") : "VME ", place);
      key = place;
    } else if (form == "030") {
      name = absl::StrCat(word, " ", english, " ", foreign);
      key = word;
    } else if (language == "4") {
      name = absl::StrCat(word, " ", english);
      key = word;
    } else if (form == "017") {
      if (french) {
        name = r < 25   ? absl::StrCat("Les Amis ", noun)
               : r < 50 ? absl::StrCat("Cercle Royal ", noun)
               : r < 75 ? absl::StrCat("Club de Football ", noun)
                        : absl::StrCat("Comité des fêtes \"", sign, "\"");
      } else {
        name = r < 25   ? absl::StrCat("Vrienden van ", noun)
               : r < 50 ? absl::StrCat("Jeugdhuis ", noun)
               : r < 75 ? absl::StrCat("Koninklijke Harmonie ", noun)
                        : absl::StrCat("Feestcomité \"", noun, "\"");
      }
      key = word;
    } else if (french) {
      name = r < 35   ? absl::StrCat(trade, " ", surname)
             : r < 50 ? absl::StrCat(surname, " et Fils")
             : r < 70 ? absl::StrCat(trade, " ", noun)
             : r < 80 ? absl::StrCat(surname, ", ", surname2, " & Associés")
             : r < 86 ? absl::StrCat(trade, " \"", sign, "\"")
                      : absl::StrCat(word, " ", english);
    } else {
      name = r < 35   ? absl::StrCat(trade, " ", surname)
             : r < 45 ? absl::StrCat(surname, " & Zonen")
             : r < 55 ? absl::StrCat(surname, " & ", surname2)
             : r < 68 ? absl::StrCat(trade, " ", noun)
             : r < 76 ? absl::StrCat(surname, ", ", surname2, " & Partners")
             : r < 82 ? absl::StrCat("Café \"", noun, "\"")
                      : absl::StrCat(word, " ", english);
    }
    if (const WeightedForm* info = FormInfo(form); info != nullptr && with_form) {
      const char* suffix = french ? info->suffix_fr : info->suffix_nl;
      if (*suffix != '\0') absl::StrAppend(&name, " ", suffix);
    }
    if (shouting) absl::AsciiStrToUpper(&name);
    if (slug != nullptr) *slug = Slug(key);
    return name;
  }

  static std::string Abbreviation(const std::string& name, Rng& rng) {
    std::string initials;
    bool start = true;
    for (char c : name) {
      if (c == ' ' || c == '-' || c == '&') {
        start = true;
      } else if (start && absl::ascii_isupper(static_cast<unsigned char>(c))) {
        initials.push_back(c);
        start = false;
      } else {
        start = false;
      }
    }
    if (initials.size() < 2) {
      // The first four characters, not bytes: "Électricité" must not become "\xc3\x89LE".
      size_t end = 0;
      for (int characters = 0; characters < 4 && end < name.size(); ++characters) {
        end += Utf8SequenceLength(static_cast<unsigned char>(name[end]));
      }
      initials = absl::AsciiStrToUpper(name.substr(0, end));
    }
    if (!rng.Chance(0.5)) return initials;
    std::string dotted;
    for (size_t i = 0; i < initials.size();) {
      const size_t length = Utf8SequenceLength(static_cast<unsigned char>(initials[i]));
      absl::StrAppend(&dotted, initials.substr(i, length), ".");
      i += length;
    }
    return dotted;
  }

  static const Place& PickPlace(Region region, Rng& rng) {
    switch (region) {
      case Region::kBrussels:
        return rng.Pick(kBrussels);
      case Region::kWallonia:
        return rng.Pick(kWallonia);
      case Region::kGermanSpeaking:
        return rng.Pick(kGermanSpeaking);
      case Region::kFlanders:
        break;
    }
    return rng.Pick(kFlanders);
  }

  static void Street(Region region, Rng& rng, std::string* nl, std::string* fr) {
    switch (region) {
      case Region::kBrussels: {
        const StreetPair& s = rng.Pick(kBrusselsStreets);
        *nl = s.nl;
        *fr = s.fr;
        return;
      }
      case Region::kWallonia: {
        const char* kind = rng.Pick(kFrenchStreetKinds);
        *nl = absl::StrCat(kind, " ", rng.Pick(kFrenchStreetNames));
        break;
      }
      case Region::kGermanSpeaking:
        *nl = rng.Pick(kGermanStreets);
        break;
      case Region::kFlanders: {
        const char* stem = rng.Pick(kDutchStreetStems);
        *nl = absl::StrCat(stem, rng.Pick(kDutchStreetSuffixes));
        if (rng.Chance(0.04)) absl::StrAppend(nl, rng.Pick(kDutchDistrictTags));
        break;
      }
    }
    *fr = *nl;
  }

  static std::string HouseNumber(Rng& rng) {
    std::string n = absl::StrCat(rng.Count(40, 400));
    if (rng.Chance(0.07)) n.push_back(rng.Chance(0.5) ? 'A' : 'b');
    return n;
  }

  void AddAddress(const std::string& entity, const char* type, Region region, int64_t since,
                  Rng& rng, EnterpriseDraft* d) const {
    const Place& place = PickPlace(region, rng);
    std::string street_nl, street_fr;
    Street(region, rng, &street_nl, &street_fr);
    const char* box = rng.Chance(0.25) ? rng.Pick(kBoxes) : "";
    const char* extra = rng.Chance(0.015) ? rng.Pick(kExtraAddressInfo) : "";
    std::string struck_off;
    if (std::strcmp(type, "REGO") != 0 && rng.Chance(0.01) && since < LastDay()) {
      struck_off = IsoDate(since + 1 + static_cast<int64_t>(rng.Below(LastDay() - since)));
    }
    d->rows(KboTable::kAddress)
        .Add({entity, type, "", "", place.zipcode, place.nl, place.fr, street_nl, street_fr,
              HouseNumber(rng), box, extra, struck_off});
  }

  void AddForeignSeat(const std::string& entity, Rng& rng, EnterpriseDraft* d) const {
    const ForeignPlace& p = rng.Pick(kForeign);
    d->rows(KboTable::kAddress)
        .Add({entity, "REGO", p.country_nl, p.country_fr, p.zipcode, p.city_nl, p.city_fr, p.street,
              p.street, HouseNumber(rng), "", "", ""});
  }

  void AddContacts(const std::string& entity, const char* entity_contact, int count, Rng& rng,
                   EnterpriseDraft* d) const {
    TableRows& contacts = d->rows(KboTable::kContact);
    for (int i = 0; i < count; ++i) {
      const uint64_t kind = rng.Below(100);
      if (kind < 40) {
        contacts.Add({entity, entity_contact, "TEL", PhoneNumber(rng)});
      } else if (kind < 80) {
        std::string email;
        switch (rng.Below(4)) {
          case 0:
            email = absl::StrCat("info@", d->slug, ".be");
            break;
          case 1:
            email = absl::StrCat("contact@", d->slug, ".com");
            break;
          case 2:
            email = absl::StrCat(d->slug, "@skynet.be");
            break;
          default:
            email = absl::StrCat(Slug(rng.Pick(kFirstNames)), ".", d->slug, "@gmail.com");
        }
        contacts.Add({entity, entity_contact, "EMAIL", email});
      } else {
        std::string web;
        switch (rng.Below(4)) {
          case 0:
            web = absl::StrCat("www.", d->slug, ".be");
            break;
          case 1:
            web = absl::StrCat(d->slug, ".be");
            break;
          case 2:
            web = absl::StrCat("https://www.", d->slug, ".eu/");
            break;
          default:
            web = absl::StrCat("www.facebook.com/profile.php?id=6158", rng.Below(10'000'000'000));
        }
        contacts.Add({entity, entity_contact, "WEB", web});
      }
    }
  }

  static std::string PhoneNumber(Rng& rng) {
    const uint64_t format = rng.Below(5);
    const int64_t prefix = rng.Between(60, 99), zone = rng.Between(10, 89);
    const int64_t a = rng.Between(200, 999), b = rng.Below(100), c = rng.Below(100),
                  e = rng.Below(100);
    switch (format) {
      case 0:
        return absl::StrFormat("04%d/%02d.%02d.%02d", prefix, b, c, e);
      case 1:
        return absl::StrFormat("+32 4%d %02d %02d %02d", prefix, b, c, e);
      case 2:
        return absl::StrFormat("02 %d %02d %02d", a, b, c);
      case 3:
        return absl::StrFormat("+324%d%d%02d%02d", prefix, a, b, c);
      default:
        return absl::StrFormat("0%d/%02d-%02d-%02d", zone, b, c, e);
    }
  }

  const std::string& PickNace(int version, bool seven, Rng& rng) const {
    return rng.Pick(seven ? codes_.nace[version].seven : codes_.nace[version].five);
  }

  // The code of `version` closest to the 2008 code: same class (four digits) if one exists.
  const std::string& RelatedNace(int version, const std::string& code2008, Rng& rng) const {
    const auto& list =
        code2008.size() == 7 ? codes_.nace[version].seven : codes_.nace[version].five;
    const absl::string_view prefix = absl::string_view(code2008).substr(0, 4);
    auto first = std::lower_bound(list.begin(), list.end(), std::string(prefix));
    auto last = first;
    while (last != list.end() && absl::StartsWith(*last, prefix)) ++last;
    if (first == last) return rng.Pick(list);
    return *(first + static_cast<int64_t>(rng.Below(last - first)));
  }

  static const char* ActivityGroup(Rng& rng) {
    const uint64_t r = rng.Below(100);
    return r < 84 ? "003" : r < 93 ? "001" : r < 99 ? "006" : "007";
  }

  // `count` activities, each in every NACE version that applies (2003 only for entities
  // started before 2008), sometimes registered in two activity groups.
  void AddActivities(const std::string& entity, int64_t since, int count, bool first_is_main,
                     Rng& rng, EnterpriseDraft* d) const {
    TableRows& activities = d->rows(KboTable::kActivity);
    for (int a = 0; a < count; ++a) {
      const char* classification = a == 0 && first_is_main ? "MAIN"
                                   : rng.Chance(0.04)      ? "ANCI"
                                                           : "SECO";
      const std::string& code2008 = PickNace(1, rng.Chance(0.33), rng);
      const std::string& code2025 = RelatedNace(2, code2008, rng);
      const std::string& code2003 = RelatedNace(0, code2008, rng);
      const char* groups[2] = {ActivityGroup(rng), nullptr};
      if (rng.Chance(0.15)) groups[1] = std::strcmp(groups[0], "003") == 0 ? "001" : "003";
      const bool with2003 = since < kDay2008 && rng.Chance(0.9);
      const bool with2008 = rng.Chance(0.93);
      for (const char* group : groups) {
        if (group == nullptr) continue;
        if (with2003) activities.Add({entity, group, "2003", code2003, classification});
        if (with2008) activities.Add({entity, group, "2008", code2008, classification});
        activities.Add({entity, group, "2025", code2025, classification});
      }
    }
  }

  void AddEstablishment(int64_t opened, Rng& rng, EnterpriseDraft* d) const {
    const std::string number = EstablishmentNumber(d->index, d->establishments++);
    d->rows(KboTable::kEstablishment).Add({number, IsoDate(opened), d->number});
    const Region region = rng.Chance(0.75) ? d->region : PickRegion(rng);
    AddAddress(number, "BAET", region, opened, rng, d);
    if (rng.Chance(0.55)) {
      std::string name;
      if (!d->natural) {
        name = CompanyName(d->language, "", rng, nullptr);
      } else if (rng.Chance(0.4)) {
        name = absl::StrCat(d->first_name, " ", d->surname);
      } else {
        const char* trade = rng.Pick(kDutchTrades);
        name = absl::StrCat(trade, " ", rng.Pick(kDutchNouns));
      }
      d->rows(KboTable::kDenomination).Add({number, d->language, "003", name});
    }
    if (rng.Chance(0.07)) AddContacts(number, "EST", rng.Count(1.4, 4), rng, d);
    AddActivities(number, opened, rng.Count(3.3, 20), true, rng, d);
  }

  void CloseLastEstablishment(EnterpriseDraft* d) const {
    const std::string number = EstablishmentNumber(d->index, --d->establishments);
    for (TableRows& t : d->tables) t.EraseEntity(number);
  }

  void AddBranch(Rng& rng, EnterpriseDraft* d) const {
    const std::string id = BranchId(d->index, rng);
    d->rows(KboTable::kBranch).Add({id, IsoDate(d->start_day), d->number});
    const std::string& name = d->rows(KboTable::kDenomination).cell(0, 3);
    d->rows(KboTable::kDenomination)
        .Add({id, d->language, "004",
              absl::StrCat(name, rng.Chance(0.5) ? " - Belgian Branch" : "")});
    AddAddress(id, "ABBR", rng.Chance(0.5) ? Region::kBrussels : Region::kFlanders, d->start_day,
               rng, d);
    if (rng.Chance(0.3)) AddContacts(id, "BRA", 1, rng, d);
  }

  void MoveAddress(Rng& rng, EnterpriseDraft* d) const {
    TableRows& addresses = d->rows(KboTable::kAddress);
    for (size_t r = 0; r < addresses.size(); ++r) {
      if (addresses.cell(r, 1) == "REGO" && !addresses.cell(r, 2).empty()) continue;  // abroad
      std::string entity = addresses.cell(r, 0);
      std::string type = addresses.cell(r, 1);
      addresses.EraseRow(r);
      AddAddress(entity, type.c_str(), rng.Chance(0.8) ? d->region : PickRegion(rng), d->start_day,
                 rng, d);
      return;
    }
    AddEstablishment(LastDay(), rng, d);  // nothing to move: a first establishment unit
  }

  const CodeBook& codes_;
  const uint64_t seed_;
  const int64_t enterprises_;
  const int64_t series1_;  // how many get 1xxx numbers
  const int64_t series0_;
  const int64_t snapshot_day_;
};

// ---- CSV output -------------------------------------------------------------------------------

// How KBO writes a column: text always in quotes, some codes left bare when empty, dates bare.
enum class Cell { kQuoted, kQuotedUnlessEmpty, kDate, kOptionalDate };

struct CsvLayout {
  std::vector<const char*> header;
  std::vector<Cell> cells;
};

// Indexed by KboTable; as in the real extracts (see the _insert.csv files of extract 147).
const std::array<CsvLayout, kKboTableCount>& Layouts() {
  using C = Cell;
  static const auto* const kLayouts = new std::array<CsvLayout, kKboTableCount>{{
      {{"EnterpriseNumber", "Status", "JuridicalSituation", "TypeOfEnterprise", "JuridicalForm",
        "JuridicalFormCAC", "StartDate"},
       {C::kQuoted, C::kQuoted, C::kQuoted, C::kQuoted, C::kQuotedUnlessEmpty,
        C::kQuotedUnlessEmpty, C::kDate}},
      {{"EstablishmentNumber", "StartDate", "EnterpriseNumber"},
       {C::kQuoted, C::kDate, C::kQuoted}},
      {{"EntityNumber", "Language", "TypeOfDenomination", "Denomination"},
       {C::kQuoted, C::kQuoted, C::kQuoted, C::kQuoted}},
      {{"EntityNumber", "TypeOfAddress", "CountryNL", "CountryFR", "Zipcode", "MunicipalityNL",
        "MunicipalityFR", "StreetNL", "StreetFR", "HouseNumber", "Box", "ExtraAddressInfo",
        "DateStrikingOff"},
       {C::kQuoted, C::kQuoted, C::kQuotedUnlessEmpty, C::kQuotedUnlessEmpty, C::kQuoted,
        C::kQuoted, C::kQuoted, C::kQuoted, C::kQuoted, C::kQuoted, C::kQuoted, C::kQuoted,
        C::kOptionalDate}},
      {{"EntityNumber", "EntityContact", "ContactType", "Value"},
       {C::kQuoted, C::kQuoted, C::kQuoted, C::kQuoted}},
      {{"EntityNumber", "ActivityGroup", "NaceVersion", "NaceCode", "Classification"},
       {C::kQuoted, C::kQuoted, C::kQuoted, C::kQuoted, C::kQuoted}},
      {{"Id", "StartDate", "EnterpriseNumber"}, {C::kQuoted, C::kDate, C::kQuoted}},
  }};
  return *kLayouts;
}

// The single column of <table>_delete.csv.
const char* DeleteHeader(KboTable table) {
  switch (table) {
    case KboTable::kEnterprise:
      return "EnterpriseNumber";
    case KboTable::kEstablishment:
      return "EstablishmentNumber";
    case KboTable::kBranch:
      return "Id";
    default:
      return "EntityNumber";
  }
}

void AppendQuoted(std::string* out, absl::string_view value) {
  out->push_back('"');
  if (value.find('"') == absl::string_view::npos) {
    out->append(value.data(), value.size());
  } else {
    for (char c : value) {
      if (c == '"') out->push_back('"');
      out->push_back(c);
    }
  }
  out->push_back('"');
}

// Buffers rows and writes them in 1 MiB blocks. Errors are sticky and reported by ok() and
// Close(), so the hot path stays a plain append.
class CsvFileWriter {
 public:
  static absl::StatusOr<std::unique_ptr<CsvFileWriter>> Create(
      std::string path, std::vector<Cell> cells, const std::vector<const char*>& header) {
    ASSIGN_OR_RETURN(FilePtr output, CreateOutput(path));
    std::FILE* file = output.release();
    auto writer =
        std::unique_ptr<CsvFileWriter>(new CsvFileWriter(file, std::move(path), std::move(cells)));
    for (size_t i = 0; i < header.size(); ++i) {
      if (i > 0) writer->buffer_.push_back(',');
      AppendQuoted(&writer->buffer_, header[i]);
    }
    writer->buffer_.push_back('\n');
    return writer;
  }
  ~CsvFileWriter() {
    if (file_ != nullptr) std::fclose(file_);
  }

  void Write(const std::vector<absl::string_view>& row) {
    for (size_t i = 0; i < row.size(); ++i) {
      if (i > 0) buffer_.push_back(',');
      const absl::string_view v = row[i];
      switch (cells_[i]) {
        case Cell::kQuoted:
          AppendQuoted(&buffer_, v);
          break;
        case Cell::kQuotedUnlessEmpty:
          if (!v.empty()) AppendQuoted(&buffer_, v);
          break;
        case Cell::kDate:
        case Cell::kOptionalDate:
          if (!v.empty()) AppendKboDate(&buffer_, v);
          break;
      }
    }
    buffer_.push_back('\n');
    ++rows_;
    if (buffer_.size() >= kBlock) Flush();
  }

  bool ok() const { return status_.ok(); }
  absl::Status Close() {
    Flush();
    if (file_ != nullptr && std::fclose(file_) != 0 && status_.ok()) {
      status_ = CheckFile(nullptr, path_, "write");
    }
    file_ = nullptr;
    return status_;
  }
  int64_t rows() const { return rows_; }
  int64_t bytes() const { return bytes_ + static_cast<int64_t>(buffer_.size()); }

 private:
  static constexpr size_t kBlock = 1 << 20;
  CsvFileWriter(std::FILE* file, std::string path, std::vector<Cell> cells)
      : file_(file), path_(std::move(path)), cells_(std::move(cells)) {
    buffer_.reserve(kBlock + 4096);
  }
  void Flush() {
    if (status_.ok() && file_ != nullptr && !buffer_.empty() &&
        std::fwrite(buffer_.data(), 1, buffer_.size(), file_) != buffer_.size()) {
      status_ = CheckFile(nullptr, path_, "write");
    }
    bytes_ += static_cast<int64_t>(buffer_.size());
    buffer_.clear();
  }

  std::FILE* file_;
  const std::string path_;
  const std::vector<Cell> cells_;
  std::string buffer_;
  int64_t rows_ = 0;
  int64_t bytes_ = 0;
  absl::Status status_;
};

absl::Status WriteTextFile(const std::string& path, const std::string& text) {
  ASSIGN_OR_RETURN(FilePtr f, CreateOutput(path));
  if (std::fwrite(text.data(), 1, text.size(), f.get()) != text.size()) {
    return CheckFile(nullptr, path, "write");
  }
  if (std::fclose(f.release()) != 0) return CheckFile(nullptr, path, "write");
  return absl::OkStatus();
}

std::string MetaCsv(int64_t snapshot_day, const std::string& type, int64_t number) {
  std::string out;
  auto row = [&](absl::string_view name, absl::string_view value) {
    AppendQuoted(&out, name);
    out.push_back(',');
    AppendQuoted(&out, value);
    out.push_back('\n');
  };
  std::string snapshot, extracted;
  AppendKboDate(&snapshot, IsoDate(snapshot_day));
  AppendKboDate(&extracted, IsoDate(snapshot_day + 1));  // extracted the next morning
  row("Variable", "Value");
  row("SnapshotDate", snapshot);
  row("ExtractTimestamp", absl::StrCat(extracted, " 06:30:00"));
  row("ExtractType", type);
  row("ExtractNumber", absl::StrCat(number));
  row("Version", "1.0.0");
  return out;
}

// ---- Manifest ---------------------------------------------------------------------------------

struct FullManifest {
  uint64_t seed = 0;
  int64_t enterprises = 0;
  int64_t extract_number = 0;
  std::string snapshot_date;
  std::string code_table_sha256;
  KboDigest state;
};

std::string ManifestJson(const KboGenerateOptions& options, const KboGenerateSummary& summary,
                         const CodeBook& codes, const FullManifest* full) {
  std::string j = "{\n";
  absl::StrAppend(&j, "  \"generator\": \"", kGeneratorId, "\",\n");
  absl::StrAppend(&j, "  \"extract_type\": \"", summary.extract_type, "\",\n");
  absl::StrAppend(&j, "  \"extract_number\": ", summary.extract_number, ",\n");
  absl::StrAppend(&j, "  \"snapshot_date\": \"", summary.snapshot_date, "\",\n");
  absl::StrAppend(&j, "  \"seed\": ", options.seed, ",\n");
  absl::StrAppend(&j, "  \"enterprises\": ", summary.state.enterprises(), ",\n");
  absl::StrAppend(&j, "  \"code_table_sha256\": \"", codes.sha256, "\",\n");
  if (full != nullptr) {
    absl::StrAppend(&j, "  \"full\": {\"extract_number\": ", full->extract_number,
                    ", \"snapshot_date\": \"", full->snapshot_date, "\", \"seed\": ", full->seed,
                    ", \"enterprises\": ", full->enterprises, ", \"digest\": \"", full->state.Hex(),
                    "\"},\n");
    absl::StrAppend(&j, "  \"changes\": {\"modified\": ", summary.modified,
                    ", \"new\": ", summary.added, ", \"struck_off\": ", summary.struck_off, "},\n");
  }
  j += "  \"files\": {";
  bool first = true;
  for (const auto& [file, rows] : summary.file_rows) {
    absl::StrAppend(&j, first ? "\n" : ",\n", "    \"", file, "\": ", rows);
    first = false;
  }
  j += "\n  },\n";
  j += "  \"tables\": {";
  for (int t = 0; t < kKboTableCount; ++t) {
    const KboTableDigest& digest = summary.state.table(static_cast<KboTable>(t));
    absl::StrAppendFormat(&j, "%s\n    \"%s\": {\"rows\": %d, \"sum\": \"%016x\"}",
                          t == 0 ? "" : ",", KboTables()[t].name, digest.rows, digest.sum);
  }
  j += "\n  },\n";
  absl::StrAppend(&j, "  \"digest\": \"", summary.state.Hex(), "\"\n}\n");
  return j;
}

// Reads what an update needs from a full extract's manifest. yaml-cpp reads JSON, and its
// exceptions stop here.
absl::StatusOr<FullManifest> ReadFullManifest(const std::string& dir) {
  const std::string path = absl::StrCat(dir, "/manifest.json");
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", why,
                     "; --update-from must be a full extract written by onceonly kbo generate"));
  };
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return bad("no such file");
  FullManifest m;
  std::string field;
  try {
    YAML::Node root = YAML::LoadFile(path);
    field = "generator";
    if (root[field].as<std::string>() != kGeneratorId) {
      return bad(absl::StrCat("generator is \"", root[field].as<std::string>(), "\", expected \"",
                              kGeneratorId, "\""));
    }
    field = "extract_type";
    if (root[field].as<std::string>() != "full") {
      return bad(absl::StrCat("extract_type is \"", root[field].as<std::string>(),
                              "\"; an update is made against a full extract"));
    }
    field = "seed";
    m.seed = root[field].as<uint64_t>();
    field = "enterprises";
    m.enterprises = root[field].as<int64_t>();
    field = "extract_number";
    m.extract_number = root[field].as<int64_t>();
    field = "snapshot_date";
    m.snapshot_date = root[field].as<std::string>();
    field = "code_table_sha256";
    m.code_table_sha256 = root[field].as<std::string>();
    for (int t = 0; t < kKboTableCount; ++t) {
      const char* name = KboTables()[t].name;
      field = absl::StrCat("tables.", name);
      YAML::Node table = root["tables"][name];
      KboTableDigest digest;
      digest.rows = table["rows"].as<int64_t>();
      if (!absl::SimpleHexAtoi(table["sum"].as<std::string>(), &digest.sum)) {
        return bad(absl::StrCat(field, ".sum is not hexadecimal"));
      }
      m.state.set_table(static_cast<KboTable>(t), digest);
    }
    field = "digest";
    if (root[field].as<std::string>() != m.state.Hex()) {
      return bad("digest does not match its tables (edited by hand?)");
    }
  } catch (const YAML::Exception& e) {
    return bad(absl::StrCat(field.empty() ? "" : absl::StrCat(field, ": "), e.what()));
  }
  if (m.enterprises < 1 || m.enterprises > kMaxGeneratedEnterprises) {
    return bad(absl::StrCat("enterprises is ", m.enterprises));
  }
  return m;
}

// ---- Writing extracts ---------------------------------------------------------------------

// Prints about once a second: how far, how fast, how long still.
class ProgressMeter {
 public:
  ProgressMeter(const std::function<void(absl::string_view)>& sink, const Clock& clock,
                int64_t total, absl::string_view what)
      : sink_(sink),
        clock_(clock),
        total_(total),
        what_(what),
        start_(clock.Now()),
        last_(start_) {}

  void Update(int64_t done, int64_t rows) {
    if (!sink_ || (done & 1023) != 0) return;
    const absl::Time now = clock_.Now();
    if (now - last_ < absl::Seconds(1)) return;
    last_ = now;
    const double seconds = absl::ToDoubleSeconds(now - start_);
    const double rate = seconds > 0 ? done / seconds : 0;
    sink_(absl::StrFormat("%s: %d/%d enterprises (%.0f%%), %d rows, %.0f rows/s, ETA %.0f s", what_,
                          done, total_, 100.0 * done / total_, rows,
                          seconds > 0 ? rows / seconds : 0, rate > 0 ? (total_ - done) / rate : 0));
  }

  void Done(int64_t rows, int64_t bytes) {
    if (!sink_) return;
    const double seconds = absl::ToDoubleSeconds(clock_.Now() - start_);
    sink_(
        absl::StrFormat("%s: %d enterprises, %d rows, %.1f MB in %.2f s (%.0f enterprises/s, "
                        "%.0f rows/s)",
                        what_, total_, rows, bytes / 1e6, seconds,
                        seconds > 0 ? total_ / seconds : 0, seconds > 0 ? rows / seconds : 0));
  }

 private:
  const std::function<void(absl::string_view)>& sink_;
  const Clock& clock_;
  const int64_t total_;
  const std::string what_;
  const absl::Time start_;
  absl::Time last_;
};

class ExtractWriter {
 public:
  explicit ExtractWriter(std::string dir) : dir_(std::move(dir)) {}

  absl::Status Open(KboTable table, const std::string& file, bool delete_file) {
    const CsvLayout& layout = Layouts()[static_cast<int>(table)];
    std::vector<Cell> cells = delete_file ? std::vector<Cell>{Cell::kQuoted} : layout.cells;
    std::vector<const char*> header =
        delete_file ? std::vector<const char*>{DeleteHeader(table)} : layout.header;
    ASSIGN_OR_RETURN(auto writer, CsvFileWriter::Create(absl::StrCat(dir_, "/", file),
                                                        std::move(cells), header));
    writers_.emplace_back(file, std::move(writer));
    return absl::OkStatus();
  }
  CsvFileWriter& writer(size_t i) { return *writers_[i].second; }

  bool ok() const {
    for (const auto& w : writers_) {
      if (!w.second->ok()) return false;
    }
    return true;
  }
  int64_t rows() const {
    int64_t n = 0;
    for (const auto& w : writers_) n += w.second->rows();
    return n;
  }
  int64_t bytes() const {
    int64_t n = 0;
    for (const auto& w : writers_) n += w.second->bytes();
    return n;
  }
  absl::Status Close(KboGenerateSummary* summary) {
    for (auto& [file, writer] : writers_) {
      RETURN_IF_ERROR(writer->Close());
      summary->file_rows[file] = writer->rows();
      summary->bytes_written += writer->bytes();
    }
    return absl::OkStatus();
  }

 private:
  const std::string dir_;
  std::vector<std::pair<std::string, std::unique_ptr<CsvFileWriter>>> writers_;
};

// Writes every row of `d` to the writers for its tables (writer index = table index +
// `first_writer`) and adds it to `digest`.
void WriteRows(const EnterpriseDraft& d, ExtractWriter& out, size_t first_writer, KboDigest* digest,
               std::vector<absl::string_view>* row) {
  for (int t = 0; t < kKboTableCount; ++t) {
    const TableRows& rows = d.tables[t];
    CsvFileWriter& writer = out.writer(first_writer + t);
    for (size_t r = 0; r < rows.size(); ++r) {
      rows.Row(r, row);
      writer.Write(*row);
      digest->AddRow(static_cast<KboTable>(t), *row);
    }
  }
}

// What KboStore::ListEnterpriseSummaries returns for `d` once imported, as far as the sample
// registries read it: number, start date, type and form codes, the enterprise's own addresses
// in file order. Codes without descriptions.
void Summarize(const EnterpriseDraft& d, registry::v1::Enterprise* e) {
  e->Clear();
  const TableRows& enterprise = d.rows(KboTable::kEnterprise);
  e->set_enterprise_number(d.number);
  e->mutable_type_of_enterprise()->set_code(enterprise.cell(0, 3));
  e->mutable_juridical_form()->set_code(enterprise.cell(0, 4));
  e->set_start_date(enterprise.cell(0, 6));
  const TableRows& addresses = d.rows(KboTable::kAddress);
  for (size_t r = 0; r < addresses.size(); ++r) {
    if (addresses.cell(r, 0) != d.number) continue;
    registry::v1::Address* a = e->add_addresses();
    a->mutable_type()->set_code(addresses.cell(r, 1));
    a->set_country_nl(addresses.cell(r, 2));
    a->set_country_fr(addresses.cell(r, 3));
    a->set_zipcode(addresses.cell(r, 4));
    a->set_municipality_nl(addresses.cell(r, 5));
    a->set_municipality_fr(addresses.cell(r, 6));
    a->set_street_nl(addresses.cell(r, 7));
    a->set_street_fr(addresses.cell(r, 8));
    a->set_house_number(addresses.cell(r, 9));
    a->set_box(addresses.cell(r, 10));
    a->set_extra_address_info(addresses.cell(r, 11));
    a->set_date_striking_off(addresses.cell(r, 12));
  }
}

absl::Status GenerateFull(const KboGenerateOptions& options, const CodeBook& codes,
                          int64_t snapshot_day,
                          const std::function<void(absl::string_view)>& progress,
                          KboGenerateSummary* summary) {
  ExtractWriter out(options.out_dir);
  for (int t = 0; t < kKboTableCount; ++t) {
    RETURN_IF_ERROR(
        out.Open(static_cast<KboTable>(t), absl::StrCat(KboTables()[t].name, ".csv"), false));
  }
  EnterpriseFactory factory(codes, options.seed, options.enterprises, snapshot_day);
  ProgressMeter meter(progress, options.clock ? *options.clock : Clock::Real(), options.enterprises,
                      absl::StrCat("generating ", options.out_dir));
  EnterpriseDraft draft;
  std::vector<absl::string_view> row;
  registry::v1::Enterprise enterprise;
  for (int64_t i = 0; i < options.enterprises; ++i) {
    factory.Generate(i, snapshot_day, &draft);
    WriteRows(draft, out, 0, &summary->state, &row);
    if (options.on_enterprise) {
      Summarize(draft, &enterprise);
      RETURN_IF_ERROR(options.on_enterprise(enterprise));
    }
    if ((i & 1023) == 0 && !out.ok()) break;  // Close() reports it
    meter.Update(i + 1, out.rows());
  }
  const int64_t rows = out.rows();
  RETURN_IF_ERROR(out.Close(summary));
  meter.Done(rows, summary->bytes_written);
  return absl::OkStatus();
}

absl::Status GenerateUpdate(const KboGenerateOptions& options, const CodeBook& codes,
                            const FullManifest& full, int64_t full_snapshot_day,
                            int64_t snapshot_day,
                            const std::function<void(absl::string_view)>& progress,
                            KboGenerateSummary* summary) {
  const int64_t added = options.changes * 3 / 10;
  const int64_t struck_off = options.changes / 5;
  const int64_t modified = options.changes - added - struck_off;
  if (modified + struck_off > full.enterprises) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--changes ", options.changes, " would modify or strike off ", modified + struck_off,
        " enterprises, but the full extract has only ", full.enterprises));
  }
  // Which existing enterprises change, in index order; the first draws are struck off.
  const uint64_t update_seed =
      Mix64(options.seed ^ Mix64(full.seed) ^ Mix64(summary->extract_number));
  std::map<int64_t, bool> changed;  // index -> struck off
  Rng select(StreamSeed(update_seed, 0, kStreamSelect));
  while (static_cast<int64_t>(changed.size()) < modified + struck_off) {
    const int64_t index = static_cast<int64_t>(select.Below(full.enterprises));
    changed.emplace(index, static_cast<int64_t>(changed.size()) < struck_off);
  }

  ExtractWriter out(options.out_dir);
  for (int t = 0; t < kKboTableCount; ++t) {
    RETURN_IF_ERROR(
        out.Open(static_cast<KboTable>(t), absl::StrCat(KboTables()[t].name, "_delete.csv"), true));
  }
  for (int t = 0; t < kKboTableCount; ++t) {
    RETURN_IF_ERROR(out.Open(static_cast<KboTable>(t),
                             absl::StrCat(KboTables()[t].name, "_insert.csv"), false));
  }
  EnterpriseFactory factory(codes, full.seed, full.enterprises, full_snapshot_day);
  ProgressMeter meter(progress, options.clock ? *options.clock : Clock::Real(), options.changes,
                      absl::StrCat("generating update ", options.out_dir));
  summary->state = full.state;
  EnterpriseDraft before, after;
  std::vector<absl::string_view> row;
  int64_t done = 0;
  for (const auto& [index, strike_off] : changed) {
    factory.Generate(index, full_snapshot_day, &before);
    // Every entity of the enterprise as it was, once per table it has rows in.
    for (int t = 0; t < kKboTableCount; ++t) {
      const TableRows& rows = before.tables[t];
      std::vector<std::string> entities;
      for (size_t r = 0; r < rows.size(); ++r) {
        rows.Row(r, &row);
        summary->state.RemoveRow(static_cast<KboTable>(t), row);
        if (std::find(entities.begin(), entities.end(), rows.cell(r, 0)) == entities.end()) {
          entities.push_back(rows.cell(r, 0));
        }
      }
      for (const std::string& entity : entities) {
        out.writer(t).Write({absl::string_view(entity)});
      }
    }
    if (!strike_off) {
      after = before;
      Rng rng(StreamSeed(update_seed, index, kStreamModify));
      factory.Modify(rng, snapshot_day, &after);
      WriteRows(after, out, kKboTableCount, &summary->state, &row);
    }
    meter.Update(++done, out.rows());
  }
  for (int64_t k = 0; k < added; ++k) {
    factory.Generate(full.enterprises + k, snapshot_day, &after);
    WriteRows(after, out, kKboTableCount, &summary->state, &row);
    meter.Update(++done, out.rows());
  }
  summary->modified = modified;
  summary->added = added;
  summary->struck_off = struck_off;
  const int64_t rows = out.rows();
  RETURN_IF_ERROR(out.Close(summary));
  meter.Done(rows, summary->bytes_written);
  return absl::OkStatus();
}

}  // namespace

std::string DefaultKboCodeTablePath() {
  const char* env = std::getenv("ONCEONLY_KBO_EXTRACT");
  if (env != nullptr && *env != '\0') return absl::StrCat(env, "/code.csv");
#ifdef ONCEONLY_KBO_EXTRACT
  return ONCEONLY_KBO_EXTRACT "/code.csv";
#else
  return "";
#endif
}

absl::StatusOr<KboGenerateSummary> GenerateKboExtract(
    const KboGenerateOptions& options,
    const std::function<void(absl::string_view progress_line)>& progress) {
  const bool update = !options.update_from.empty();
  if (options.out_dir.empty()) return absl::InvalidArgumentError("--out DIR is required");
  if (options.code_table.empty()) {
    return absl::InvalidArgumentError(
        "no KBO code table: pass --codes with the code.csv of a real KBO extract, or set "
        "ONCEONLY_KBO_EXTRACT to its directory");
  }
  if (!update && (options.enterprises < 1 || options.enterprises > kMaxGeneratedEnterprises)) {
    return absl::InvalidArgumentError(absl::StrCat("--enterprises must be from 1 to ",
                                                   kMaxGeneratedEnterprises, ", not ",
                                                   options.enterprises));
  }
  if (update && (options.changes < 1 || options.changes > kMaxGeneratedChanges)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--changes must be from 1 to ", kMaxGeneratedChanges, ", not ", options.changes));
  }
  if (options.extract_number < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--extract-number must be positive, not ", options.extract_number));
  }

  KboGenerateSummary summary;
  summary.extract_type = update ? "update" : "full";
  FullManifest full;
  int64_t full_snapshot_day = 0;
  int64_t snapshot_day = 0;
  if (update) {
    ASSIGN_OR_RETURN(full, ReadFullManifest(options.update_from));
    ASSIGN_OR_RETURN(
        full_snapshot_day,
        ParseIsoDate(full.snapshot_date,
                     absl::StrCat(options.update_from, "/manifest.json: snapshot_date")));
    std::error_code ec;
    if (std::filesystem::equivalent(options.update_from, options.out_dir, ec)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--out ", options.out_dir, " is the full extract itself; write the update elsewhere"));
    }
    summary.extract_number =
        options.extract_number > 0 ? options.extract_number : full.extract_number + 1;
    if (summary.extract_number <= full.extract_number) {
      return absl::InvalidArgumentError(absl::StrCat("--extract-number ", summary.extract_number,
                                                     " must follow the full extract's ",
                                                     full.extract_number));
    }
    snapshot_day = full_snapshot_day + 1;
  } else {
    summary.extract_number =
        options.extract_number > 0 ? options.extract_number : kDefaultFullExtractNumber;
    ASSIGN_OR_RETURN(snapshot_day, ParseIsoDate(kDefaultSnapshotDate, "default snapshot date"));
  }
  if (!options.snapshot_date.empty()) {
    ASSIGN_OR_RETURN(snapshot_day, ParseIsoDate(options.snapshot_date, "--snapshot-date"));
  }
  if (snapshot_day < DaysFromCivil(2023, 1, 1) || snapshot_day > DaysFromCivil(2099, 12, 31)) {
    return absl::InvalidArgumentError(absl::StrCat("snapshot date ", IsoDate(snapshot_day),
                                                   " is outside 2023-01-01 .. 2099-12-31"));
  }
  if (update && snapshot_day <= full_snapshot_day) {
    return absl::InvalidArgumentError(absl::StrCat("--snapshot-date ", IsoDate(snapshot_day),
                                                   " must be after the full extract's ",
                                                   full.snapshot_date));
  }
  summary.snapshot_date = IsoDate(snapshot_day);

  std::error_code ec;
  std::filesystem::create_directories(options.out_dir, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot create the output directory ", options.out_dir, ": ", ec.message()));
  }
  if (!std::filesystem::is_directory(options.out_dir, ec)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--out ", options.out_dir, " is not a directory"));
  }
  const std::string code_copy = absl::StrCat(options.out_dir, "/code.csv");
  if (std::filesystem::equivalent(options.code_table, code_copy, ec)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--codes ", options.code_table,
                     " is the code.csv the extract is written to; pass the "
                     "real extract's code.csv"));
  }
  // A stale manifest would vouch for a half-written extract.
  std::filesystem::remove(absl::StrCat(options.out_dir, "/manifest.json"), ec);

  CodeBook codes;
  RETURN_IF_ERROR(LoadCodeBook(options.code_table, &codes));
  RETURN_IF_ERROR(CopyCodeTable(options.code_table, code_copy, &codes));
  if (update && codes.sha256 != full.code_table_sha256) {
    return absl::InvalidArgumentError(
        absl::StrCat(options.code_table, " is not the code table the full extract in ",
                     options.update_from, " was generated with (SHA-256 ", codes.sha256,
                     ", manifest says ", full.code_table_sha256, "); pass that one with --codes"));
  }
  const std::string meta = MetaCsv(snapshot_day, summary.extract_type, summary.extract_number);
  RETURN_IF_ERROR(WriteTextFile(absl::StrCat(options.out_dir, "/meta.csv"), meta));

  if (update) {
    RETURN_IF_ERROR(
        GenerateUpdate(options, codes, full, full_snapshot_day, snapshot_day, progress, &summary));
  } else {
    RETURN_IF_ERROR(GenerateFull(options, codes, snapshot_day, progress, &summary));
  }
  const std::string manifest = ManifestJson(options, summary, codes, update ? &full : nullptr);
  RETURN_IF_ERROR(WriteTextFile(absl::StrCat(options.out_dir, "/manifest.json"), manifest));
  summary.bytes_written += codes.bytes + static_cast<int64_t>(meta.size() + manifest.size());
  return summary;
}

}  // namespace onceonly
