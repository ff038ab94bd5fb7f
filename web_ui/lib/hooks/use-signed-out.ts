"use client";

import { useQueryClient } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { clearCsrfToken } from "@/lib/api/client";
import { liveSocket } from "@/lib/live/socket";

/** What follows the end of this browser's session (log out, log out everywhere): forget its
 *  CSRF token, live socket and cached data, and go to the login page. */
export function useSignedOut(): () => void {
  const router = useRouter();
  const queryClient = useQueryClient();
  return () => {
    clearCsrfToken();
    liveSocket.close();
    queryClient.clear();
    router.replace("/login/");
  };
}
