"use client";

import { ScrollText, ShieldAlert, UserRound } from "lucide-react";
import Link from "next/link";
import { Suspense } from "react";
import { UsersSection } from "@/components/admin/users-section";
import { PageBody, PageHeader } from "@/components/shell/page-header";
import { Button } from "@/components/ui/button";
import { EmptyState, ErrorState, LoadingRows } from "@/components/ui/states";
import { useMe } from "@/lib/queries";

function Admin() {
  const me = useMe();
  return (
    <>
      <PageHeader
        title="Admin"
        description="Users of the platform. Your own API tokens and sessions are on your account page."
        actions={
          <>
            {me.data?.is_admin && (
              <Button variant="outline" asChild>
                <Link href="/admin/audit/">
                  <ScrollText /> Audit log
                </Link>
              </Button>
            )}
            <Button variant="outline" asChild>
              <Link href="/account/">
                <UserRound /> Account
              </Link>
            </Button>
          </>
        }
      />
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
            description={`You are signed in as ${me.data.username}, who is not an admin. Ask an admin to create users or change their rights.`}
            action={
              <Button variant="outline" asChild>
                <Link href="/account/">Your API tokens and sessions</Link>
              </Button>
            }
          />
        )}
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
