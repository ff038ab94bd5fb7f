"use client";

import { useRouter } from "next/navigation";
import { useEffect } from "react";

/** The front door: the projects list (which sends a logged-out user to the login page). */
export default function Home() {
  const router = useRouter();
  useEffect(() => router.replace("/projects/"), [router]);
  return null;
}
