"use client";

import {
  Boxes,
  Cpu,
  Database,
  FileCog,
  FolderKanban,
  GitCompare,
  LogOut,
  Monitor,
  Moon,
  Package,
  Play,
  Search,
  Shield,
  Sun,
  Users,
} from "lucide-react";
import Link from "next/link";
import { usePathname } from "next/navigation";
import {
  DropdownMenu,
  DropdownMenuContent,
  DropdownMenuItem,
  DropdownMenuTrigger,
} from "@/components/ui/dropdown-menu";
import { api, type Schemas } from "@/lib/api/client";
import { useSignedOut } from "@/lib/hooks/use-signed-out";
import { useProject } from "@/lib/queries";
import { useUi, type Theme } from "@/lib/store/ui";
import { cn } from "@/lib/utils";

interface NavItem {
  href: string;
  label: string;
  icon: React.ComponentType<{ className?: string }>;
  /** the path prefix that marks it current */
  match: string;
}

function NavLink({ item }: { item: NavItem }) {
  const pathname = usePathname();
  const current = pathname === item.match || pathname.startsWith(item.match);
  const Icon = item.icon;
  return (
    <Link
      href={item.href}
      aria-current={current ? "page" : undefined}
      className={cn(
        "flex items-center gap-2.5 rounded-md px-2.5 py-1.5 text-sm text-muted-foreground transition-colors hover:bg-accent hover:text-accent-foreground",
        current && "bg-accent font-medium text-accent-foreground",
      )}
    >
      <Icon className="size-4" />
      {item.label}
    </Link>
  );
}

const THEMES: { value: Theme; label: string; icon: typeof Sun }[] = [
  { value: "light", label: "Light", icon: Sun },
  { value: "dark", label: "Dark", icon: Moon },
  { value: "system", label: "System", icon: Monitor },
];

export function Sidebar({ me }: { me: Schemas["Me"] }) {
  const projectId = useUi((s) => s.projectId);
  const project = useProject(projectId);
  const { theme, setTheme, setPaletteOpen } = useUi();
  const signedOut = useSignedOut();
  const pathname = usePathname();

  const global: NavItem[] = [
    { href: "/projects/", label: "Projects", icon: FolderKanban, match: "/projects" },
    { href: "/datasets/", label: "Datasets", icon: Database, match: "/dataset" },
    { href: "/agents/", label: "Agents", icon: Cpu, match: "/agents" },
    { href: "/compare/", label: "Compare", icon: GitCompare, match: "/compare" },
  ];
  if (me.is_admin) global.push({ href: "/admin/", label: "Admin", icon: Shield, match: "/admin" });

  const projectItems: NavItem[] =
    projectId != null && project.data
      ? [
          { href: `/project/?id=${projectId}`, label: "Runs", icon: Play, match: "/project/runs" },
          { href: `/project/configs/?id=${projectId}`, label: "Configs", icon: FileCog, match: "/project/configs" },
          { href: `/project/models/?id=${projectId}`, label: "Models", icon: Package, match: "/project/models" },
          { href: `/project/members/?id=${projectId}`, label: "Members", icon: Users, match: "/project/members" },
        ]
      : [];

  async function logout() {
    await api.POST("/auth/logout");
    signedOut();
  }

  const ThemeIcon = THEMES.find((t) => t.value === theme)?.icon ?? Monitor;

  return (
    <aside className="flex w-56 shrink-0 flex-col border-r bg-muted/30" aria-label="Sidebar">
      <Link href="/projects/" className="flex items-center gap-2 px-4 py-4 font-semibold">
        <Boxes className="size-5 text-primary" aria-hidden />
        Visionyard
      </Link>
      <button
        type="button"
        onClick={() => setPaletteOpen(true)}
        className="mx-3 mb-3 flex items-center gap-2 rounded-md border bg-background px-2.5 py-1.5 text-sm text-muted-foreground hover:bg-accent"
      >
        <Search className="size-4" aria-hidden />
        <span className="flex-1 text-left">Jump to…</span>
        <kbd className="rounded border bg-muted px-1 font-mono text-[10px]">Ctrl K</kbd>
      </button>
      <nav className="flex flex-col gap-0.5 px-3" aria-label="Main">
        {global.map((item) => (
          <NavLink key={item.href} item={item} />
        ))}
      </nav>
      {projectItems.length > 0 && (
        <nav className="mt-5 flex flex-col gap-0.5 px-3" aria-label="Project">
          <p className="truncate px-2.5 pb-1 text-xs font-semibold tracking-wide text-muted-foreground uppercase">
            {project.data?.name}
          </p>
          {projectItems.map((item) => (
            <NavLink key={item.href} item={item} />
          ))}
        </nav>
      )}
      <div className="mt-auto flex items-center gap-1 border-t p-3">
        <Link
          href="/account/"
          aria-current={pathname.startsWith("/account") ? "page" : undefined}
          title={me.is_admin ? `${me.username} (admin): tokens and sessions` : `${me.username}: tokens and sessions`}
          className={cn(
            "flex min-w-0 flex-1 items-center gap-2 rounded-md px-2 py-1.5 text-sm hover:bg-accent",
            pathname.startsWith("/account") && "bg-accent font-medium",
          )}
        >
          <span
            aria-hidden
            className="flex size-6 shrink-0 items-center justify-center rounded-full bg-primary text-xs font-semibold text-primary-foreground uppercase"
          >
            {me.username.slice(0, 1)}
          </span>
          <span className="truncate">
            <span className="sr-only">Account: </span>
            {me.username}
          </span>
        </Link>
        <button
          type="button"
          onClick={logout}
          aria-label="Log out"
          title="Log out"
          className="rounded-md p-2 text-muted-foreground hover:bg-accent hover:text-foreground"
        >
          <LogOut className="size-4" />
        </button>
        <DropdownMenu>
          <DropdownMenuTrigger
            aria-label={`Theme: ${theme}`}
            className="rounded-md p-2 text-muted-foreground hover:bg-accent hover:text-foreground"
          >
            <ThemeIcon className="size-4" />
          </DropdownMenuTrigger>
          <DropdownMenuContent align="end" side="top">
            {THEMES.map(({ value, label, icon: Icon }) => (
              <DropdownMenuItem key={value} onSelect={() => setTheme(value)}>
                <Icon /> {label}
                {theme === value && <span className="ml-auto text-xs text-muted-foreground">current</span>}
              </DropdownMenuItem>
            ))}
          </DropdownMenuContent>
        </DropdownMenu>
      </div>
    </aside>
  );
}
