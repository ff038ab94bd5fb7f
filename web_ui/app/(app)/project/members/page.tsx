"use client";

import { useQuery } from "@tanstack/react-query";
import { Users } from "lucide-react";
import { useSearchParams } from "next/navigation";
import { Suspense } from "react";
import { AddMemberForm } from "@/components/members/add-member-form";
import { MemberRow } from "@/components/members/member-row";
import { ROLES } from "@/components/members/roles";
import { PageBody, PageHeader } from "@/components/shell/page-header";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { EmptyState, ErrorState, LoadingRows } from "@/components/ui/states";
import { api, unwrap } from "@/lib/api/client";
import { useProjectRole } from "@/lib/hooks/use-project-role";
import { useSidebarProject } from "@/lib/hooks/use-sidebar-project";
import { idParam, keys, useMe, useProject } from "@/lib/queries";

function RoleLegend() {
  return (
    <dl className="grid gap-x-4 gap-y-1 text-sm sm:grid-cols-[auto_1fr]">
      {ROLES.map((role) => (
        <div key={role.value} className="contents">
          <dt className="font-medium">{role.label}</dt>
          <dd className="text-muted-foreground">{role.help}</dd>
        </div>
      ))}
    </dl>
  );
}

function ProjectMembers({ projectId }: { projectId: number }) {
  useSidebarProject(projectId);
  const project = useProject(projectId);
  const me = useMe();
  const { can } = useProjectRole(projectId);
  const members = useQuery({
    queryKey: keys.members(projectId),
    queryFn: () =>
      unwrap(api.GET("/projects/{project_id}/members", { params: { path: { project_id: projectId } } })),
  });
  const projectName = project.data?.name ?? `Project ${projectId}`;
  const owners = members.data?.items.filter((m) => m.role === "owner").map((m) => m.username) ?? [];
  return (
    <>
      <PageHeader
        crumbs={[
          { label: "Projects", href: "/projects/" },
          { label: projectName, href: `/project/?id=${projectId}` },
          { label: "Members" },
        ]}
        title="Members"
        description="Who can see this project, and what each may change."
      />
      <PageBody>
        {project.error ? (
          <ErrorState error={project.error} retry={() => project.refetch()} />
        ) : (
          <Card>
            <CardHeader>
              <CardTitle>People</CardTitle>
              <CardDescription>
                {project.isPending || members.isPending
                  ? " "
                  : can.own
                    ? "Add people by username and pick their role. A project keeps at least one owner."
                    : `Only an owner${owners.length ? ` (${owners.join(", ")})` : ""} or an admin can change who is a member.`}
              </CardDescription>
            </CardHeader>
            <CardContent className="flex flex-col gap-4">
              {can.own && <AddMemberForm projectId={projectId} />}
              {members.isPending ? (
                <LoadingRows rows={3} />
              ) : members.error && !members.data ? (
                <ErrorState error={members.error} retry={() => members.refetch()} />
              ) : members.data.items.length === 0 ? (
                <EmptyState icon={<Users className="size-8" />} title="No members" description="Admins see every project." />
              ) : (
                <ul className="divide-y rounded-md border" aria-label="Members">
                  {members.data.items.map((member) => (
                    <MemberRow
                      key={member.user_id}
                      projectId={projectId}
                      member={member}
                      isSelf={member.user_id === me.data?.id}
                      canManage={can.own}
                    />
                  ))}
                </ul>
              )}
            </CardContent>
          </Card>
        )}
        <Card>
          <CardHeader>
            <CardTitle>Roles</CardTitle>
            <CardDescription>Admins act as owners in every project.</CardDescription>
          </CardHeader>
          <CardContent>
            <RoleLegend />
          </CardContent>
        </Card>
      </PageBody>
    </>
  );
}

function MembersPageInner() {
  const id = idParam(useSearchParams().get("id"));
  if (id == null) {
    return (
      <>
        <PageHeader crumbs={[{ label: "Projects", href: "/projects/" }]} title="Members" />
        <PageBody>
          <EmptyState title="No project given" description="Open a project, then its Members page." />
        </PageBody>
      </>
    );
  }
  return <ProjectMembers key={id} projectId={id} />;
}

export default function MembersPage() {
  return (
    <Suspense>
      <MembersPageInner />
    </Suspense>
  );
}
