"""A fixed, built-in set of varied English sentences used to measure sentence-embedding fidelity
(cosine to the fp32 model); no network needed."""

SENTENCES: tuple[str, ...] = (
    # --- representative mix (first 64) ---
    "The coffee machine in the office broke again this morning.",
    "Where is the nearest pharmacy?",
    "Preheat the oven to 220 °C and lightly grease a baking tray before you start on the dough.",
    "It rained all weekend, so we stayed inside and played board games.",
    "The striker scored twice in the second half, securing a 3–1 win for the visitors.",
    "Photosynthesis converts light energy into chemical energy stored in glucose.",
    (
        "Patients taking blood thinners should tell their dentist before any procedure, because even "
        "a routine extraction can cause prolonged bleeding, and the dentist may want to coordinate with "
        "the prescribing physician about temporarily adjusting the dose or pausing the medication for "
        "a couple of days."
    ),
    "A contract signed under duress is generally not enforceable.",
    "Interest rates rose by a quarter of a percentage point on Wednesday.",
    "Why does my Python script run out of memory when I read a 2 GB CSV file?",
    "The microcontroller wakes from deep sleep every 15 minutes to sample the temperature sensor.",
    "The Roman Empire split into eastern and western halves in 395 AD.",
    "She plays the cello beautifully.",
    "The museum's new exhibit features Impressionist landscapes borrowed from Paris and Boston.",
    "Fog settled over the valley.",
    "I don't feel angry anymore, just tired and a little disappointed.",
    "Hi, I was charged twice for my order last week. Can you refund the duplicate payment?",
    "These headphones are comfortable, but the battery barely lasts four hours.",
    "The city council voted 7 to 2 to approve the new bike lane on Main Street.",
    "Unplug the device before replacing the fuse.",
    "We missed the last train and had to take a taxi back to the hotel.",
    "Honestly, the café on the corner makes the best croissants in town.",
    "Add the rice and stir until every grain is coated with oil.",
    (
        "When I first moved to the city I didn't know anyone, so I joined a running club that met every "
        "Thursday evening, and within a few months those weekend runs and the long breakfasts afterwards "
        "had turned a group of strangers into some of my closest friends."
    ),
    "Is it safe to fly during a thunderstorm?",
    "Quantum computers use qubits, which can exist in a superposition of states.",
    "The compiler flagged an unused variable on line 42.",
    "Thank you so much!",
    "The firmware update bricked about 3% of the routers in the field.",
    "Wolves were reintroduced to Yellowstone National Park in 1995.",
    "The recipe calls for two cups of flour, one egg, and a pinch of salt.",
    "Stock markets in Asia closed lower amid concerns about slowing growth.",
    "He wasn't sure whether the painting was an original or a clever forgery.",
    "Please restart your router and try again.",
    "Heavy snow is expected in the mountains tonight, with up to 40 centimetres above 1,500 metres.",
    "The antibiotic had no effect because the infection was viral.",
    (
        "The defendant's lawyer argued that the evidence had been obtained without a valid warrant, and "
        "that every piece of information derived from that search, including the laptop, the phone "
        "records, and the testimony of the informant, should therefore be excluded from the trial."
    ),
    "My grandmother taught me how to knit when I was seven.",
    "The guitarist tuned down half a step for the final song.",
    "Does this jacket come in a larger size?",
    "A binary search runs in logarithmic time on a sorted array.",
    "The bees were unusually busy among the lavender.",
    "I absolutely love it.",
    "Tired but happy, they reached the summit just after sunrise.",
    "Mix equal parts vinegar and water to clean the glass.",
    "The battery voltage dropped below 3.3 volts, triggering a brownout reset.",
    "Don't forget to water the plants while I'm away.",
    "The Treaty of Versailles was signed in June 1919.",
    "Inflation in the eurozone slowed to 2.4% in November, according to preliminary figures.",
    "What's the difference between a virus and a bacterium?",
    (
        "After three weeks of testing, I can say this vacuum handles pet hair better than anything I "
        "have owned, although it is noticeably louder than my old one, the dustbin is annoyingly small, "
        "and the app kept losing its connection to our home Wi-Fi network."
    ),
    "The river froze solid last January.",
    "Sculptors in ancient Greece often painted their marble statues in bright colours.",
    "Your package is out for delivery.",
    "The symphony ended in complete silence before the applause began.",
    "Scientists detected water vapour in the atmosphere of a distant exoplanet.",
    "The naïve assumption that users read the manual caused most of the support tickets.",
    "Turn left at the second roundabout.",
    "The tenant is not responsible for repairs caused by normal wear and tear.",
    "Reduce the sauce until it coats the back of a spoon.",
    "Our flight was delayed by six hours because of a strike.",
    "The new GPU offers twice the memory bandwidth of its predecessor.",
    "Good morning, everyone.",
    "Grief comes in waves, and some days are much harder than others.",
    # --- everyday life ---
    "I left my umbrella on the bus again.",
    "The washing machine makes a loud banging noise during the spin cycle.",
    "We're painting the kitchen a pale shade of green this weekend.",
    "Can you pick up some milk on your way home?",
    "My neighbour's dog barks every time the postman walks by.",
    "The alarm didn't go off, so I was late for work.",
    "She keeps a small notebook in her bag for grocery lists and random ideas.",
    "Moving house is exhausting.",
    "The kids built a fort out of couch cushions and old blankets.",
    "I finally cancelled the gym membership I hadn't used since March.",
    (
        "Every Sunday evening I sit down with a cup of tea, look at the week ahead, write out what needs "
        "to happen on each day, and plan simple dinners, because if I don't, the week slips away and we "
        "end up ordering takeaway far more often than we'd like."
    ),
    "The lift is out of order, so please use the stairs.",
    # --- cooking ---
    "Salt the pasta water generously before adding the spaghetti.",
    "Let the steak rest for five minutes before slicing it.",
    "This soup tastes better the day after it's made.",
    "How long should I boil an egg for a runny yolk?",
    "Toast the cumin seeds in a dry pan until fragrant.",
    "The bread didn't rise because the yeast was too old.",
    "Fold the egg whites gently so the batter stays light.",
    "Crème brûlée needs a very hot grill or a kitchen torch to caramelise the sugar on top.",
    "Marinate the chicken overnight.",
    (
        "To make a proper stock, roast the bones until they are deeply browned, cover them with cold "
        "water, add onion, carrot, celery and a few peppercorns, then simmer very gently for at least six "
        "hours, skimming the surface now and then and never letting it boil hard."
    ),
    "Never put a cast-iron pan in the dishwasher.",
    "A squeeze of lemon brightens almost any dish.",
    "The jalapeños were much hotter than I expected.",
    "Weigh the flour rather than measuring it by volume for more consistent results.",
    "She burned the garlic, so she started the sauce over.",
    "Is it okay to freeze cooked rice?",
    # --- travel ---
    "The passport office is closed on public holidays.",
    "We rented a small car and drove along the coast for a week.",
    "Do I need a visa to visit Japan for two weeks?",
    "The hostel was cheap, clean, and surprisingly quiet.",
    "Our luggage ended up in Frankfurt while we landed in Lisbon.",
    "Boarding begins thirty minutes before departure.",
    "The night train from Vienna to Venice crosses the Alps while you sleep.",
    "Remember to carry some cash, since many village shops don't accept cards.",
    "The hotel upgraded us to a room with a sea view.",
    (
        "If you only have one day in Kyoto, start early at Fushimi Inari before the crowds arrive, walk "
        "through the bamboo grove in Arashiyama around midday, and finish the evening wandering the "
        "lantern-lit streets of Gion, where you might glimpse a geiko hurrying to an appointment."
    ),
    "Window or aisle?",
    "Tickets cost €12 for adults and €6 for children under 12.",
    "The border crossing took almost three hours.",
    "We got hopelessly lost in the old town's narrow alleys.",
    # --- weather ---
    "It's going to be scorching tomorrow.",
    "A cold front will bring showers and a sharp drop in temperature by Friday evening.",
    "The hurricane weakened to a tropical storm after making landfall.",
    "Will it snow on Christmas Day this year?",
    "Humidity makes 30 degrees feel much hotter than it really is.",
    "Thunder rolled across the hills.",
    "The drought has lasted for three consecutive summers.",
    "Black ice on the roads caused several accidents during the morning commute.",
    "A rainbow appeared after the storm passed.",
    "Forecasters warn that wind gusts could reach 120 km/h along exposed coasts.",
    "Despite the forecast, it didn't rain at all.",
    "Hailstones the size of golf balls damaged cars across the suburbs.",
    # --- sports ---
    "The marathon starts at 8 a.m. sharp.",
    "He tore his anterior cruciate ligament and will miss the rest of the season.",
    "Who won the Tour de France last year?",
    "The goalkeeper saved a penalty in the ninetieth minute.",
    "Tennis players often bounce the ball several times before serving.",
    "Our team hasn't lost a home game since October.",
    "She swam 1,500 metres in just under seventeen minutes.",
    "The referee's decision sparked furious protests from the home fans.",
    (
        "Cricket can seem baffling to newcomers, since a single test match lasts up to five days, can "
        "still end in a draw, and involves terms like leg before wicket, silly mid-off and googly, yet "
        "many fans insist that the slow build of tension is exactly what makes it so rewarding."
    ),
    "Stretch properly before you run.",
    "The Olympic torch relay passed through forty cities.",
    "Basketball was invented by James Naismith in 1891.",
    "The climbers turned back 200 metres below the summit.",
    "Chess is a sport, isn't it?",
    # --- science ---
    "Water boils at a lower temperature at high altitude.",
    "DNA is made of four nucleotide bases: adenine, thymine, guanine and cytosine.",
    "Light from the Sun takes about eight minutes to reach Earth.",
    "Why is the sky blue?",
    "Entropy in an isolated system never decreases.",
    "The experiment failed to replicate the original findings.",
    "Tectonic plates move only a few centimetres each year.",
    "Black holes can form when massive stars collapse under their own gravity.",
    "A catalyst speeds up a chemical reaction without being consumed by it.",
    (
        "The team measured the decay rate over eighteen months using a detector buried deep "
        "underground, shielded from cosmic rays by more than a kilometre of rock, and found a small but "
        "persistent seasonal variation that none of their existing models could explain."
    ),
    "Neutrons carry no electric charge.",
    "The half-life of carbon-14 is roughly 5,730 years.",
    "Sound travels faster in water than in air.",
    "Octopuses have three hearts and blue blood.",
    # --- medicine ---
    "Take one tablet twice a day with food.",
    "The patient was admitted with chest pain and shortness of breath.",
    "Is it normal to feel dizzy after a flu vaccine?",
    "Regular exercise lowers the risk of type 2 diabetes.",
    "The MRI showed no sign of a fracture.",
    "Wash your hands for at least twenty seconds.",
    "Antibiotics do not work against the common cold.",
    "The surgeon explained the risks of the operation in plain language.",
    (
        "If you notice sudden weakness on one side of the face or body, slurred speech, or confusion, "
        "call emergency services immediately, because these can be signs of a stroke, and every minute "
        "of delay before treatment increases the chance of permanent damage to the brain."
    ),
    "My blood pressure was 135 over 85 at the last check-up.",
    "The clinical trial enrolled 4,200 participants across twelve countries.",
    "Vitamin D deficiency is common in northern countries during winter.",
    "The rash isn't contagious.",
    "Physiotherapy helped her regain full movement in her shoulder.",
    # --- law ---
    "The court dismissed the case for lack of evidence.",
    "Can my landlord raise the rent without notice?",
    "Both parties must sign the agreement in the presence of a witness.",
    "The accused is presumed innocent until proven guilty.",
    "The patent expires in 2031, after which generic versions may be sold.",
    "Jury selection took longer than expected.",
    "A verbal agreement can still be legally binding in some situations.",
    "The appeal was rejected by a majority of three judges to two.",
    (
        "Under the new regulation, companies that collect personal data must explain in clear language "
        "what they collect, why they collect it, how long they keep it, and who they share it with, and "
        "they must delete it promptly when a customer asks, unless the law requires them to keep it."
    ),
    "Ignorance of the law is no excuse.",
    "The will was contested by the deceased's two sons.",
    "Do I need a lawyer to file for divorce?",
    # --- finance ---
    "Diversification reduces risk but doesn't eliminate it.",
    "The company reported a net loss of $48 million for the quarter.",
    "Should I pay off my mortgage early or invest the money?",
    "Compound interest rewards people who start saving young.",
    "The bank froze my account after a suspicious transaction.",
    "Bond prices fall when interest rates rise.",
    "She keeps six months of expenses in an emergency fund.",
    "The startup raised €15 million in its Series A round.",
    (
        "Before signing up for a credit card with a generous introductory offer, read the fine print "
        "carefully, because the zero percent rate often lasts only a few months, after which the "
        "interest can jump above twenty percent, and missing a single payment may cancel the promotion."
    ),
    "Taxes are due by the end of April.",
    "The dollar weakened against the yen overnight.",
    "Index funds typically charge lower fees than actively managed funds.",
    "Cash is king.",
    "The auditors found no material errors in the accounts.",
    # --- programming ---
    "This function returns None when the list is empty.",
    "Always write tests before refactoring legacy code.",
    "How do I undo my last commit without losing the changes?",
    "The server crashed with a null pointer exception at startup.",
    "Use a dictionary instead of a list for constant-time lookups.",
    "The pull request was merged after two rounds of review.",
    "Recursion without a base case will eventually overflow the stack.",
    "It works on my machine.",
    "The API returns a 429 status code when you exceed the rate limit.",
    "Rust's borrow checker prevents data races at compile time.",
    (
        "The bug only appeared under heavy load, when two worker threads tried to update the same cache "
        "entry at nearly the same moment, and because the logging itself changed the timing, it took us "
        "almost two weeks to reproduce it reliably and add the missing lock."
    ),
    "Don't commit your API keys to the repository.",
    "The query is slow because the column isn't indexed.",
    "JavaScript compares objects by reference, not by value.",
    "Which is faster, a for loop or a list comprehension?",
    "The build fails on Windows because of a hard-coded path separator.",
    "Garbage collection pauses caused noticeable latency spikes.",
    "Never deploy on Fridays.",
    # --- hardware / embedded ---
    "The sensor communicates with the microcontroller over I²C.",
    "Flash the bootloader before uploading the application firmware.",
    "The board draws only 12 microamps in its lowest power mode.",
    "Why does my Raspberry Pi keep rebooting when the camera is on?",
    "Solder the header pins carefully to avoid bridging adjacent pads.",
    "The quantised model runs at 30 frames per second on the edge device.",
    "An oscilloscope revealed noise on the 5 V rail.",
    "The watchdog timer resets the chip if the main loop hangs.",
    "This chip has 256 KB of RAM and 1 MB of flash.",
    (
        "Running the neural network on the phone's dedicated accelerator instead of the CPU cut "
        "inference time from 80 milliseconds to just 9, but it also forced us to convert every layer to "
        "eight-bit integers, and a handful of operations had to fall back to the slower cores."
    ),
    "The fan is spinning but there's no display.",
    "Use a pull-up resistor on the reset line.",
    "Overclocking voids the warranty.",
    "The thermal camera can detect differences of 0.1 °C.",
    "Plug the USB cable in before turning on the board.",
    "Memory fragmentation is a real problem on small embedded systems.",
    # --- history ---
    "The Berlin Wall fell in November 1989.",
    "Ancient Egyptians built the pyramids without iron tools.",
    "Who was the first woman to win a Nobel Prize?",
    "The printing press transformed how knowledge spread across Europe.",
    "The Silk Road connected China with the Mediterranean for centuries.",
    "Napoleon was exiled to the island of Saint Helena.",
    "The Black Death killed roughly a third of Europe's population.",
    (
        "During the Industrial Revolution, thousands of families left the countryside for crowded "
        "factory towns, where children as young as six worked long shifts at dangerous machines, and it "
        "took decades of campaigning before laws limited working hours and required schooling."
    ),
    "Apollo 11 landed on the Moon in July 1969.",
    "The Library of Alexandria was not destroyed in a single fire.",
    "Vikings reached North America around the year 1000.",
    "History rarely repeats itself exactly.",
    "Medieval castles were often cold, damp and smoky.",
    "The Magna Carta was sealed in 1215 at Runnymede.",
    # --- music ---
    "The band's second album sounds nothing like their first.",
    "I've been learning the piano for about six months.",
    "Jazz musicians often improvise over a familiar chord progression.",
    "Can you recommend some calm music for studying?",
    "The concert sold out within ten minutes.",
    "Beethoven continued composing after he lost his hearing.",
    "The drummer kept perfect time.",
    "Her voice cracked on the high note, but the audience didn't seem to mind.",
    (
        "What I love about that old record is the way the strings come in quietly under the second "
        "verse, almost unnoticed at first, until by the final chorus they have completely taken over, "
        "and you realise the whole song has been building towards that single, enormous moment."
    ),
    "Turn the volume down, please.",
    "The orchestra performed Dvořák's Ninth Symphony.",
    "Vinyl sales have grown for over a decade.",
    # --- art ---
    "The portrait's eyes seem to follow you around the room.",
    "She works mostly in watercolour and charcoal.",
    "The gallery refused to display the controversial sculpture.",
    "Is modern art really worth millions?",
    "Van Gogh sold very few paintings during his lifetime.",
    "The mural covers the entire side of the old warehouse.",
    "Restorers spent three years cleaning the chapel ceiling.",
    "Negative space can be as important as the subject itself.",
    "Photography was once dismissed as mere mechanical copying.",
    "That frame doesn't suit the painting at all.",
    # --- nature ---
    "Autumn leaves crunched underfoot.",
    "Salmon swim upstream to spawn in the rivers where they hatched.",
    "The oak tree in our garden is over two hundred years old.",
    "Coral reefs are bleaching because of warmer ocean temperatures.",
    "A fox crossed the road in front of us.",
    "Some seeds can remain dormant for decades before germinating.",
    "The wetlands provide a habitat for hundreds of migrating birds.",
    "Are mushrooms plants?",
    "Elephants can recognise themselves in a mirror.",
    (
        "From the ridge we watched the storm move slowly across the plain, dragging curtains of grey "
        "rain beneath it, while on our side of the valley the sun still lit the grass a brilliant gold "
        "and a pair of hawks circled lazily overhead as if nothing were about to happen."
    ),
    "Bamboo is one of the fastest-growing plants on Earth.",
    "The glacier has retreated nearly a kilometre since 1950.",
    # --- emotions ---
    "I'm so proud of you.",
    "He felt a wave of relief when the test results came back negative.",
    "Why do I feel anxious for no reason?",
    "Loneliness can be worse in a crowded room.",
    "She laughed until tears ran down her face.",
    "I'm not upset, I just need some time alone.",
    "Nostalgia hit me hard when I heard that song again.",
    "They were nervous but excited about the new baby.",
    "Jealousy rarely solves anything.",
    "It's okay to ask for help.",
    (
        "I still remember the mix of terror and excitement on my first day at university, standing in "
        "a huge lecture hall full of strangers, convinced that everyone else knew exactly what they "
        "were doing and that someone would soon discover I didn't belong there at all."
    ),
    "Gratitude made the hard days easier.",
    # --- customer support ---
    "My order arrived damaged. What should I do?",
    "How do I reset my password if I no longer have access to my email?",
    "Can I change the delivery address after placing the order?",
    "The app keeps crashing whenever I open the settings page.",
    "I was promised a callback yesterday, but nobody called.",
    "Is there a student discount?",
    "Please cancel my subscription, effective immediately.",
    "Why was I charged a €5 fee for paying by card?",
    (
        "I've contacted your support team four times about the same problem with my internet "
        "connection, which drops every evening between seven and ten, and each time I'm told an "
        "engineer will call me back, yet nobody ever does, so I'd like this escalated to a manager."
    ),
    "Where can I find my invoice?",
    "The replacement part still hasn't arrived.",
    "Does the warranty cover accidental damage?",
    "Thanks, that fixed it!",
    "Your ticket number is 58213; please keep it for reference.",
    # --- product reviews ---
    "Great value for the price.",
    "The blender is powerful but incredibly loud.",
    "Stopped working after two weeks. Would not recommend.",
    "The screen is bright and sharp, even in direct sunlight.",
    "Five stars, would buy again.",
    "The shoes run small, so order a size up.",
    "Setup took less than five minutes and the instructions were clear.",
    "Not worth the money.",
    (
        "I was sceptical about spending this much on a kitchen knife, but after six months of daily use "
        "it still slices tomatoes effortlessly, the handle is comfortable even during long prep "
        "sessions, and it hasn't rusted or chipped, so I now think it was one of my best purchases."
    ),
    "The smell of the plastic faded after a few days.",
    "Battery life is excellent; I charge it once a week.",
    "The colour looks nothing like the photos online.",
    # --- news ---
    "The prime minister announced her resignation on Tuesday.",
    "Firefighters brought the wildfire under control after four days.",
    "Unemployment fell to its lowest level in two decades.",
    "A magnitude 6.2 earthquake struck off the coast early this morning.",
    "Officials said no injuries had been reported.",
    "The factory will close next year, putting 900 jobs at risk.",
    "Voter turnout reached a record 78 percent.",
    (
        "Thousands of residents were evacuated on Sunday as the river burst its banks for the second "
        "time this month, and emergency crews worked through the night to reinforce flood barriers "
        "while forecasters warned that more heavy rain was expected before the end of the week."
    ),
    "The museum reopened after a two-year renovation.",
    "Scientists have welcomed the government's decision to increase research funding.",
    # --- instructions ---
    "Remove the back cover and insert two AA batteries.",
    "Press and hold the power button for ten seconds.",
    "Do not exceed the recommended dose.",
    "Fill in the form using block capitals and sign at the bottom.",
)
