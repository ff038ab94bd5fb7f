import type { NextConfig } from "next";

// A static export the dashboard serves from its own port (no Node server in production).
// trailingSlash: `/runs/` is written as runs/index.html, which Starlette's StaticFiles finds
// for both `/runs` and `/runs/`; without it Next writes runs.html and `/runs` is a 404.
const config: NextConfig = {
  output: "export",
  trailingSlash: true,
  images: { unoptimized: true },
  reactStrictMode: true,
  poweredByHeader: false,
  // `npm run lint` runs on its own in `make test`; the build need not lint twice.
  eslint: { ignoreDuringBuilds: true },
};

export default config;
