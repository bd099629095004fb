"""What the demo boards are made of: the projects, the team, the tickets and what people
say on them (seed_demo, backups.demo_flow)."""

PROJECTS = [
    ("Storefront", "The customer-facing web shop: catalogue, cart, checkout and accounts."),
    ("Platform API", "The public REST API, its workers and the infrastructure behind them."),
    ("Mobile app", "The iOS and Android apps: browsing, ordering and push notifications."),
]
PEOPLE = [("maria", "Maria", "Lopez"), ("jonas", "Jonas", "Berg")]
AGENT = "claude-demo"
COLUMNS = ["Backlog", "In Progress", "Testing", "Done"]

# (title, description, acceptance criteria, priority, labels)
TICKETS = [
    (
        "Add password reset by email",
        "Users who forget their password have no way back in except support.",
        "- A reset link is emailed and expires after 1 hour\n- Old sessions end after a reset",
        "high",
        ["auth", "feature"],
    ),
    (
        "Checkout fails for addresses with an apostrophe",
        'Orders to e.g. "O\'Connell Street" return a 500 from the address validator.',
        "- Apostrophes and other punctuation are accepted\n- Regression test added",
        "critical",
        ["bug", "checkout"],
    ),
    (
        "Paginate the order history page",
        "Customers with hundreds of orders wait 8 s for the page to load.",
        "- 25 orders per page\n- Page loads in under 500 ms with 1,000 orders",
        "medium",
        ["performance", "frontend"],
    ),
    (
        "Rate-limit the login endpoint",
        "Credential stuffing attempts show up in the logs every night.",
        "- At most 10 attempts per IP per minute\n- 429 with a Retry-After header",
        "high",
        ["security", "auth"],
    ),
    (
        "Upgrade PostgreSQL client library",
        "psycopg 2 is end of life for us; move to psycopg 3.",
        "- All tests pass on psycopg 3\n- Connection pooling settings unchanged",
        "low",
        ["tech-debt", "backend"],
    ),
    (
        "Show stock level on product pages",
        "Support gets daily questions about whether an item is in stock.",
        "- 'In stock', 'Only N left' (N < 5) or 'Out of stock'\n- Updates within a minute",
        "medium",
        ["feature", "frontend"],
    ),
    (
        "Flaky test: test_cart_merge_on_login",
        "Fails about one run in twenty on CI, always on the timestamp comparison.",
        "- Test passes 200 runs in a row\n- Root cause noted in the fix",
        "medium",
        ["bug", "ci"],
    ),
    (
        "Document the webhook payloads",
        "Partners keep asking what fields order.updated carries.",
        "- Every webhook event documented with an example\n- Linked from the API docs",
        "low",
        ["docs"],
    ),
    (
        "Cache category listings",
        "Category pages hit the database with the same query on every view.",
        "- Listings cached for 5 minutes, invalidated on product change\n- Hit rate on dashboard",
        "medium",
        ["performance", "backend"],
    ),
    (
        "Add Apple Pay to checkout",
        "Mobile Safari users abandon checkout at the card form.",
        "- Apple Pay button on supported devices\n- Refunds work the same as card payments",
        "high",
        ["feature", "checkout"],
    ),
    (
        "Images are not lazy-loaded",
        "The home page downloads 6 MB of images before first paint.",
        "- Below-the-fold images load lazily\n- Lighthouse performance score above 85",
        "medium",
        ["performance", "frontend"],
    ),
    (
        "Set up error tracking alerts",
        "We find production errors from customer emails rather than alerts.",
        "- New error types alert the on-call channel\n- Alert noise below 5 per day",
        "high",
        ["ops"],
    ),
    (
        "Session cookie missing SameSite attribute",
        "Flagged by the last security scan.",
        "- Session and CSRF cookies set SameSite=Lax and Secure",
        "high",
        ["security"],
    ),
    (
        "Export orders as CSV for accounting",
        "Accounting copies orders by hand into their spreadsheet every month.",
        "- CSV with one row per order line\n- Date range filter\n- Amounts in minor units",
        "medium",
        ["feature", "backend"],
    ),
    (
        "Translate checkout into German",
        "Germany is our second market and checkout is English only.",
        "- All checkout strings translated\n- Prices and dates formatted for de-DE",
        "medium",
        ["i18n", "checkout"],
    ),
    (
        "Remove the legacy coupon service",
        "Coupons moved to the pricing service a year ago; the old one still runs.",
        "- No traffic to the old service for 2 weeks\n- Service, DNS and database removed",
        "low",
        ["tech-debt"],
    ),
    (
        "Search ignores accents",
        "Searching 'creme' does not find 'crème brûlée'.",
        "- Accent-insensitive matching\n- Results ranked the same as before otherwise",
        "medium",
        ["bug", "search"],
    ),
    (
        "Add health check for the payment gateway",
        "When the gateway is down we only notice from failed orders.",
        "- /health reports the gateway\n- The load balancer keeps serving pages regardless",
        "medium",
        ["ops", "backend"],
    ),
    (
        "Keyboard navigation in the product gallery",
        "The gallery cannot be used without a mouse (accessibility audit, item 14).",
        "- Arrow keys move between images\n- Focus is visible\n- Screen reader labels",
        "medium",
        ["accessibility", "frontend"],
    ),
    (
        "Nightly database backup verification",
        "Backups run, but nobody has tried restoring one since March.",
        "- A nightly job restores the latest backup into a scratch database\n- Alerts on failure",
        "high",
        ["ops"],
    ),
    (
        "Wishlist sharing",
        "Customers ask to share wishlists with family before birthdays.",
        "- A share link shows the wishlist read-only\n- The owner can revoke the link",
        "low",
        ["feature"],
    ),
    (
        "Order confirmation email shows wrong tax",
        "VAT is computed on the pre-discount price in the email only.",
        "- The email matches the invoice to the cent\n- Test with a discount and VAT",
        "critical",
        ["bug", "checkout"],
    ),
    (
        "Split the monolith's settings file",
        "settings.py is 1,400 lines and every deploy touches it.",
        "- Settings grouped by concern\n- No behaviour change (diff of resolved settings empty)",
        "low",
        ["tech-debt", "backend"],
    ),
    (
        "Add dark mode",
        "Most requested feature in the last survey.",
        "- Follows the system setting\n- Contrast ratios meet WCAG AA",
        "low",
        ["feature", "frontend"],
    ),
    (
        "API: return 404 instead of 500 for unknown order ids",
        "GET /orders/abc crashes with a ValueError.",
        "- Non-numeric and unknown ids return 404 with the error envelope",
        "high",
        ["bug", "api"],
    ),
    (
        "Write the runbook for a payment outage",
        "The last outage took 40 minutes to diagnose.",
        "- Steps to confirm, mitigate and communicate\n- Reviewed by on-call",
        "medium",
        ["docs", "ops"],
    ),
    (
        "Reduce Docker image size",
        "The app image is 1.9 GB; deploys spend most of their time pulling it.",
        "- Multi-stage build\n- Image under 400 MB",
        "low",
        ["ops", "tech-debt"],
    ),
    (
        "Track add-to-cart events",
        "Marketing cannot see which products are added but not bought.",
        "- Event with product id and price\n- No personal data in the event",
        "medium",
        ["analytics", "frontend"],
    ),
]

COMMENTS = {
    "start": [
        "Picking this up.",
        "Starting on this now; will push a draft PR today.",
        "On it. Looks like the fix is in the serializer.",
    ],
    "review": [
        "Ready for review: PR is up with tests.",
        "Done on my side, deployed to staging for testing.",
        "Implemented; edge cases listed in the PR description.",
    ],
    "done": [
        "Verified on staging, merging.",
        "Checked the acceptance criteria, all good.",
        "Looks good. Closing.",
    ],
    "backlog": [
        "Do we have numbers on how often this happens?",
        "Customer support flagged this again this week.",
        "Can we split this into smaller tickets?",
        "Blocked until we agree on the design.",
    ],
    "rework": [
        "Fails on staging with an empty cart; back to you.",
        "The acceptance criteria are not all met yet: see the second point.",
        "Found a regression in the mobile layout, sending it back.",
    ],
}
