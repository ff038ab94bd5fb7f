"use client";

import { ShieldAlert } from "lucide-react";
import { Suspense } from "react";
import { TokensSection } from "@/components/admin/tokens-section";
import { UsersSection } from "@/components/admin/users-section";
import { PageBody, PageHeader } from "@/components/shell/page-header";
import { EmptyState, ErrorState, LoadingRows } from "@/components/ui/states";
import { useMe } from "@/lib/queries";

function Admin() {
  const me = useMe();
  return (
    <>
      <PageHeader title="Admin" description="Users of the platform and API tokens." />
      <PageBody>
        {me.isPending ? (
          <LoadingRows rows={4} />
        ) : me.error && !me.data ? (
          <ErrorState error={me.error} retry={() => me.refetch()} />
        ) : me.data.is_admin ? (
          <UsersSection me={me.data} />
        ) : (
          <EmptyState
            icon={<ShieldAlert className="size-8" />}
            title="Managing users is for admins"
            description={`You are signed in as ${me.data.username}, who is not an admin. Ask an admin to create users or change their rights. Your own API tokens are below.`}
          />
        )}
        {me.data && <TokensSection />}
      </PageBody>
    </>
  );
}

export default function AdminPage() {
  return (
    <Suspense>
      <Admin />
    </Suspense>
  );
}
