"use client";

import { Suspense } from "react";
import { SessionsSection } from "@/components/account/sessions-section";
import { TokensSection } from "@/components/account/tokens-section";
import { PageBody, PageHeader } from "@/components/shell/page-header";
import { useMe } from "@/lib/queries";

function Account() {
  const me = useMe();
  return (
    <>
      <PageHeader
        title="Account"
        description={me.data ? `Signed in as ${me.data.username}${me.data.is_admin ? " (admin)" : ""}: your API tokens and sessions.` : "Your API tokens and sessions."}
      />
      <PageBody>
        <TokensSection />
        <SessionsSection />
      </PageBody>
    </>
  );
}

export default function AccountPage() {
  return (
    <Suspense>
      <Account />
    </Suspense>
  );
}
