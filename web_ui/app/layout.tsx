import type { Metadata } from "next";
import "./globals.css";
import { Providers } from "./providers";

export const metadata: Metadata = {
  title: { default: "Visionyard", template: "%s · Visionyard" },
  description: "Train, queue and compare image classifiers",
};

// Set the theme class before the first paint, so a dark-mode user never sees a white flash.
const themeScript = `try{var t=(JSON.parse(localStorage.getItem("visionyard-ui")||"{}").state||{}).theme||"system";if(t==="dark"||(t==="system"&&matchMedia("(prefers-color-scheme: dark)").matches))document.documentElement.classList.add("dark")}catch(e){}`;

export default function RootLayout({ children }: { children: React.ReactNode }) {
  return (
    <html lang="en" suppressHydrationWarning>
      <head>
        <script dangerouslySetInnerHTML={{ __html: themeScript }} />
      </head>
      <body>
        <Providers>{children}</Providers>
      </body>
    </html>
  );
}
