//! The demo marketplace's content. Invented shops and goods; any likeness is chance.

use souk_domain::catalog::Category;

pub(super) struct DemoShop {
    pub slug: &'static str,
    pub owner: &'static str,
    pub name: &'static str,
    pub tagline: &'static str,
    pub description: &'static str,
    pub location: &'static str,
    pub listings: &'static [DemoItem],
}

pub(super) struct DemoItem {
    pub title: &'static str,
    pub description: &'static str,
    pub category: Category,
    pub price_cents: i64,
    pub stock: u32,
}

const fn item(
    title: &'static str,
    category: Category,
    price_cents: i64,
    stock: u32,
    description: &'static str,
) -> DemoItem {
    DemoItem { title, description, category, price_cents, stock }
}

/// Demo buyers: handle, name, email, postal address. Invented people; the addresses are
/// shaped like real ones so the pages look real, and are stored sealed like real ones.
pub(super) const BUYERS: &[(&str, &str, &str, &str)] = &[
    ("amina_k", "Amina Kabbaj", "amina.kabbaj@example.org", "14 Derb Sidi Ahmed, 30110 Fès, Morocco"),
    ("lucas.m", "Lucas Moreau", "lucas.moreau@example.net", "7 rue des Tanneurs, 69001 Lyon, France"),
    ("priya_r", "Priya Raman", "priya.raman@example.com", "22 Marlowe Road, Leeds LS6 1AB, United Kingdom"),
    ("tomasz", "Tomasz Wójcik", "tomasz.wojcik@example.org", "ul. Długa 41/3, 80-827 Gdańsk, Poland"),
    ("ines.b", "Inês Barros", "ines.barros@example.net", "Rua do Almada 118, 4050-031 Porto, Portugal"),
    (
        "kenji_w",
        "Kenji Watanabe",
        "kenji.watanabe@example.com",
        "3-12-9 Nakameguro, Meguro-ku, Tokyo 153-0061, Japan",
    ),
];

pub(super) const SHOPS: &[DemoShop] = &[
    DemoShop {
        slug: "atlas-ceramics",
        owner: "youssef_atlas",
        name: "Atlas Ceramics",
        tagline: "Hand-thrown stoneware from Fès",
        description: "A two-person studio in the old medina. Every piece is thrown, glazed and fired by hand in small batches, so no two are quite alike.",
        location: "Fès, Morocco",
        listings: &[
            item(
                "Zellige blue breakfast bowl",
                Category::Home,
                2800,
                14,
                "A deep 15 cm bowl glazed in the cobalt of Fès zellige tiles. Food safe, dishwasher safe.",
            ),
            item(
                "Speckled stoneware mug, 350 ml",
                Category::Home,
                2400,
                22,
                "Oatmeal glaze over speckled clay, with a thumb rest on the handle.",
            ),
            item(
                "Serving platter with olive-branch rim",
                Category::Home,
                6400,
                5,
                "A 34 cm platter, hand-painted rim, for tagines and feasts.",
            ),
            item(
                "Set of four tea glasses' saucers",
                Category::Home,
                3200,
                9,
                "Small stoneware saucers sized for Moroccan tea glasses.",
            ),
            item(
                "Terracotta herb planter",
                Category::Home,
                3900,
                11,
                "Unglazed outside, sealed inside, with a drainage hole and matching dish.",
            ),
        ],
    },
    DemoShop {
        slug: "nordlys-knits",
        owner: "ingrid_nordlys",
        name: "Nordlys Knits",
        tagline: "Warm wool from the west coast of Norway",
        description: "Sweaters, hats and mittens knitted from Norwegian wool, to patterns passed down three generations.",
        location: "Bergen, Norway",
        listings: &[
            item(
                "Selbu-star wool mittens",
                Category::Clothing,
                4500,
                18,
                "Double-knitted mittens in the classic eight-petal star. Natural white and charcoal.",
            ),
            item(
                "Fisherman's rib beanie",
                Category::Clothing,
                3200,
                30,
                "Deep-cuffed beanie in undyed grey wool.",
            ),
            item(
                "Lusekofte cardigan with pewter clasps",
                Category::Clothing,
                24900,
                3,
                "Hand-knitted cardigan with lice-pattern body and pewter clasps. Made to order in sizes S-XL.",
            ),
            item(
                "Merino baby blanket",
                Category::Toys,
                8900,
                6,
                "Soft merino in a cable pattern, 80 × 100 cm.",
            ),
        ],
    },
    DemoShop {
        slug: "copper-and-thread",
        owner: "marta_ct",
        name: "Copper & Thread",
        tagline: "Small-batch jewelry, recycled metals",
        description: "Rings, earrings and pendants cut, forged and polished in a Lisbon workshop from recycled copper, brass and silver.",
        location: "Lisbon, Portugal",
        listings: &[
            item(
                "Hammered copper hoop earrings",
                Category::Jewelry,
                3600,
                25,
                "Lightweight 30 mm hoops on hypoallergenic hooks.",
            ),
            item(
                "Sterling silver wave ring",
                Category::Jewelry,
                5800,
                12,
                "A band shaped like an Atlantic wave. Sizes 5-10.",
            ),
            item(
                "Brass azulejo pendant",
                Category::Jewelry,
                4200,
                15,
                "Pierced brass pendant after a Lisbon tile, on a 45 cm chain.",
            ),
            item(
                "Stacking rings, set of three",
                Category::Jewelry,
                7400,
                8,
                "Copper, brass and silver bands to wear together or apart.",
            ),
        ],
    },
    DemoShop {
        slug: "inkwell-press",
        owner: "callum_ink",
        name: "Inkwell Press",
        tagline: "Letterpress prints and hand-bound books",
        description: "A letterpress studio printing on a 1910 Arab press: art prints, notebooks and short-run poetry.",
        location: "Edinburgh, Scotland",
        listings: &[
            item(
                "Old Town skyline letterpress print",
                Category::Art,
                3800,
                40,
                "A3 two-colour print on 300 gsm cotton paper, signed and numbered.",
            ),
            item(
                "Hand-bound linen notebook",
                Category::Books,
                2600,
                35,
                "Coptic-stitched, 160 pages of dot-grid paper, lies flat.",
            ),
            item(
                "Poems of the North Sea (chapbook)",
                Category::Books,
                1400,
                60,
                "Twenty poems, letterpress printed in an edition of 200.",
            ),
            item(
                "Botanical alphabet poster",
                Category::Art,
                4500,
                20,
                "Twenty-six plants from A to Z, printed in green and ochre.",
            ),
            item(
                "Wax seal kit with thistle stamp",
                Category::Art,
                3100,
                16,
                "Brass stamp, rosewood handle, three sticks of sealing wax.",
            ),
        ],
    },
    DemoShop {
        slug: "saffron-pantry",
        owner: "lucia_saffron",
        name: "Saffron Pantry",
        tagline: "Spanish saffron, paprika and olive oil",
        description: "Family growers in La Mancha and Valencia. We harvest, dry and pack our spices ourselves.",
        location: "Valencia, Spain",
        listings: &[
            item(
                "La Mancha saffron threads, 2 g",
                Category::Food,
                1900,
                80,
                "Category I saffron with a PDO seal, hand-picked in October.",
            ),
            item(
                "Smoked paprika (pimentón de la Vera), 250 g",
                Category::Food,
                1100,
                50,
                "Oak-smoked sweet paprika in a resealable tin.",
            ),
            item(
                "Arbequina extra virgin olive oil, 500 ml",
                Category::Food,
                1650,
                45,
                "Early-harvest cold-pressed oil, fruity and mild.",
            ),
            item(
                "Paella spice kit for six",
                Category::Food,
                2300,
                25,
                "Saffron, paprika and rosemary, with our grandmother's recipe card.",
            ),
        ],
    },
    DemoShop {
        slug: "tinker-workshop",
        owner: "daan_tinker",
        name: "Tinker Workshop",
        tagline: "Wooden toys and build-it-yourself electronics",
        description: "Beech-wood toys made without glue or varnish, and soldering kits that teach kids how circuits work.",
        location: "Utrecht, Netherlands",
        listings: &[
            item(
                "Beech-wood stacking rainbow",
                Category::Toys,
                3400,
                20,
                "Seven arches, oiled with beeswax, no paint.",
            ),
            item(
                "Blinking-owl soldering kit",
                Category::Electronics,
                1800,
                40,
                "A first soldering project: two LEDs and a 555 timer. Ages 10+ with an adult.",
            ),
            item(
                "Wooden marble run, 40 pieces",
                Category::Toys,
                6900,
                7,
                "Solid beech tracks and towers with twelve glass marbles.",
            ),
            item(
                "Solar-powered desk fan kit",
                Category::Electronics,
                2900,
                18,
                "Build a small fan that runs on sunlight; includes a panel and motor.",
            ),
        ],
    },
];
